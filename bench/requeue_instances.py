"""Give the shipped instances the background-only backlog of issue 23 without ray tracing them again.

Each file's queues become q_j(t+1) = max(0, q_j(t) + X_j(t) - tau) with its own build's background draws
(uara.scenario.requeue: bit for bit what ``uara build --queue-model background`` writes, checked by
tests/test_build.py), its params gain ``server_model: batched`` and ``background_load``; channels,
devices, tasks and batteries are unchanged. Run once: python bench/requeue_instances.py instances/m*.json
"""

from __future__ import annotations

import sys
import time

from uara.model.instance import Instance
from uara.scenario.builder import requeue_background


def main(paths: list[str]) -> None:
    for path in paths:
        t0 = time.perf_counter()
        inst = Instance.load(path)
        if inst.provenance.get("build", {}).get("queue_model") == "background":
            print(f"{path}: already background-only, left as it is")
            continue
        new = requeue_background(inst)
        new.save(path)
        q_old = max(max(s.queue_s) for s in inst.slots)
        q_new = max(max(s.queue_s) for s in new.slots)
        print(f"{path}: max queue {q_old:.3f} s -> {q_new:.3f} s; fingerprint {inst.fingerprint()} -> "
              f"{new.fingerprint()} ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
