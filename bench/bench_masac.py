"""Inference time of TMA-MASAC for one 180 x 20 slot on CPU (target < 50 ms).

    python bench/bench_masac.py [--policy PATH] [--repeats 30]

Times, separately, the features, the actor's forward pass, TMA given the
action (:func:`uara.rl.environment.decide`, with the solver's default ``final_allocation``) and the whole ``solve_slot``; torch on CPU
with 1 thread; prints the median over ``--repeats`` slots.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from uara.scenario.random_instance import random_instance


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default=None, help="checkpoint (default: the shipped uara/rl/policies/masac.pt)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--m", type=int, default=180)
    ap.add_argument("--e", type=int, default=20)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from uara.rl.environment import decide, device_features
    from uara.model.formulation import slot_data
    from uara.model.instance import Instance
    from uara.solvers import get_solver
    from uara.solvers.base import SolveContext

    inst = random_instance(args.m, args.e, slots=args.repeats, seed=2024)
    solver = get_solver("masac", **({"policy": args.policy} if args.policy else {}))
    pol = solver.policy()
    times: dict[str, list[float]] = {"features": [], "actor": [], "tma": [], "solve_slot": []}
    sds = [slot_data(inst, t) for t in range(inst.num_slots)]
    for t, sd in enumerate(sds[:3]):  # warm-up
        solver.solve_slot(sd, SolveContext(0, t, np.random.default_rng(0), None, 1, inst))
    for t, sd in enumerate(sds):
        t0 = time.perf_counter()
        obs = device_features(sd)
        t1 = time.perf_counter()
        act = pol.act(obs)
        t2 = time.perf_counter()
        decide(sd, act, beta_y=pol.beta_y, beta_z=pol.beta_z, final_allocation=solver.options.final_allocation)
        t3 = time.perf_counter()
        solver.solve_slot(sd, SolveContext(0, t, np.random.default_rng(0), None, 1, inst))
        t4 = time.perf_counter()
        for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[k].append(1e3 * v)
    print(f"TMA-MASAC inference, {args.m} devices x {args.e} servers, CPU, torch {torch.__version__}, 1 thread, "
          f"median of {args.repeats} slots:")
    for k, v in times.items():
        print(f"  {k:11s} {statistics.median(v):7.2f} ms   (max {max(v):.2f})")
    total = statistics.median(times["solve_slot"])
    print(f"solve_slot {total:.2f} ms per slot: {'meets' if total < 50 else 'MISSES'} the 50 ms target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
