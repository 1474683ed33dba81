"""Inference time of TMA-MASAC for one 180 x 20 slot on CPU (target < 50 ms).

    python bench/bench_masac.py [--solver masac|masac-uara] [--policy PATH] [--repeats 30]

Times, separately, the observation (:func:`uara.solvers.p1.masac.policy_observation`: the device features, and
for a look-ahead policy the paper's zero-action pipeline), the actor's forward pass, the decision given the
action (``masac``: :func:`uara.solvers.p1.masac.paper_decision`, policy shares then Alg. 1's swaps;
``masac-uara``: :func:`uara.rl.environment.decide` with the solver's ``final_allocation``) and the whole
``solve_slot``; torch on CPU with 1 thread; prints the median over ``--repeats`` slots.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from uara.scenario.random_instance import random_instance


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solver", default="masac", choices=["masac", "masac-uara"])
    ap.add_argument("--policy", default=None, help="checkpoint (default: the back-end's shipped policy)")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--m", type=int, default=180)
    ap.add_argument("--e", type=int, default=20)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    from uara.rl.environment import decide
    from uara.model.formulation import slot_data
    from uara.model.instance import Instance
    from uara.solvers import get_solver
    from uara.solvers.base import SolveContext
    from uara.solvers.p1.masac import paper_decision, policy_observation

    inst = random_instance(args.m, args.e, slots=args.repeats, seed=2024)
    solver = get_solver(args.solver, **({"policy": args.policy} if args.policy else {}))
    pol = solver.policy()
    times: dict[str, list[float]] = {"observation": [], "actor": [], "decision": [], "solve_slot": []}
    sds = [slot_data(inst, t) for t in range(inst.num_slots)]
    for t, sd in enumerate(sds[:3]):  # warm-up
        solver.solve_slot(sd, SolveContext(0, t, np.random.default_rng(0), None, 1, inst))
    for t, sd in enumerate(sds):
        t0 = time.perf_counter()
        obs = policy_observation(sd, pol.feature_set)
        t1 = time.perf_counter()
        act = pol.act(obs)
        t2 = time.perf_counter()
        if args.solver == "masac":
            paper_decision(sd, act, beta_y=pol.beta_y, beta_z=pol.beta_z)
        else:
            decide(sd, act, beta_y=pol.beta_y, beta_z=pol.beta_z, final_allocation=solver.options.final_allocation)
        t3 = time.perf_counter()
        solver.solve_slot(sd, SolveContext(0, t, np.random.default_rng(0), None, 1, inst))
        t4 = time.perf_counter()
        for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            times[k].append(1e3 * v)
    print(f"{args.solver} inference ({pol.feature_set} features), {args.m} devices x {args.e} servers, CPU, torch {torch.__version__}, 1 thread, "
          f"median of {args.repeats} slots:")
    for k, v in times.items():
        print(f"  {k:11s} {statistics.median(v):7.2f} ms   (max {max(v):.2f})")
    total = statistics.median(times["solve_slot"])
    print(f"solve_slot {total:.2f} ms per slot: {'meets' if total < 50 else 'MISSES'} the 50 ms target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
