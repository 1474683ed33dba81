"""Speed of the PSD timeline simulator (target: >= 1e4 tasks per second).

Simulates N tasks of ~200 output tokens (GPT2/GPT2-XL code profile, i.i.d.
and measured-trace acceptance) for SD and PSD at several draft lengths, and
the end-to-end latency of one 180-device slot. Prints the median of repeated
runs; asserts nothing. Run: python bench/bench_psd.py [--tasks 10000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from uara.psd.simulation.acceptance import Acceptance
from uara.psd.workload.profiles import load_profile
from uara.psd.simulation.simulator import Timing, simulate
from uara.scenario.random_instance import random_instance


def timed(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    prof = load_profile("gpt2_code")
    rng = np.random.default_rng(0)
    n = prof.output_tokens.sample(rng, a.tasks)
    ctx = prof.context_tokens(prof.prompt_tokens.sample(rng, a.tasks), n)
    timing = Timing(prof.draft.flops_per_token(ctx) / 70e9, prof.target.flops_per_token(ctx) / 25e12,
                    verify_s_per_call=0.02, uplink_bps=rng.uniform(5e6, 1e8, a.tasks), downlink_bps=1e8,
                    link_latency_s=0.01)
    print(f"{a.tasks} tasks, mean {n.mean():.0f} output tokens (median of {a.repeat} runs)")
    for alpha in (0.6, 0.9):
        for g in (4, 25):
            match = Acceptance.iid(alpha).sample(a.tasks, int(n.max()) + g + 1, rng)
            for mode in ("sd", "psd"):
                dec = prof.decoding(mode=mode, draft_length=g)
                t = timed(lambda: simulate(n, match, timing, dec), a.repeat)
                print(f"alpha {alpha:.1f} gamma {g:>2d} {mode.upper():3s}: {t * 1e3:7.1f} ms -> "
                      f"{a.tasks / t:9.0f} tasks/s (target 1e4: {a.tasks / t / 1e4:.1f}x)")
    t0 = time.perf_counter()
    match = Acceptance.iid(0.9).sample(a.tasks, int(n.max()) + 26, rng)
    print(f"sampling {a.tasks} i.i.d. traces: {(time.perf_counter() - t0) * 1e3:.1f} ms")

    from uara.model.instance import Instance
    from uara.psd.latency import slot_latency
    from uara.psd.workload.profiles import load_profile_set
    from uara.psd.workload.tasks import sample_tasks

    inst = random_instance(180, 20, seed=0)
    inst.slots[0].tasks = sample_tasks(load_profile_set("gpt2"), [t.type for t in inst.slots[0].tasks], 0)
    x = rng.integers(0, 20, 180)
    y = np.full(180, 1 / 9)
    t = timed(lambda: slot_latency(inst, 0, x, y, y), a.repeat)
    print(f"slot_latency 180 devices x 20 servers: {t * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
