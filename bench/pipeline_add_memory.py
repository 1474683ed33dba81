"""Give pipeline instances built before issue 23 the servers' memory and the models' KV bytes per token.

The builder now also writes ``sbs/mbs.memory_bytes`` (the recorded server kind's memory,
uara/model/shared/data/server_hardware.json) and ``models.*.kv_bytes_per_token`` = 2 x layers x d_model x
bytes per parameter = flops_per_context_token (4 L d) x bytes / 2; nothing else it writes depends on them,
so adding them to an older file gives what a rebuild writes (``uara build --from-provenance F --check``:
identical). Run once:  python bench/pipeline_add_memory.py results/pipeline/instances/*.json
"""

from __future__ import annotations

import sys

from uara.io import atomic_write_bytes, read_json
from uara.model.pipeline.serving_instance import PipelineInstance, dumps_pipeline_instance
from uara.model.shared.server_model import server_kind_hardware


def main(paths: list[str]) -> None:
    hw = server_kind_hardware()
    for path in paths:
        d = read_json(path, what="pipeline instance")
        build = d["provenance"]["build"]
        for node in ("sbs", "mbs"):
            d[node]["memory_bytes"] = float(hw[build[f"{node}_kind"]]["memory_bytes"])
        for model in ("draft", "target"):
            m = d["models"][model]
            m["kv_bytes_per_token"] = float(m["flops_per_context_token"] * float(build["bytes_per_parameter"]) / 2.0)
        atomic_write_bytes(path, dumps_pipeline_instance(PipelineInstance.from_dict(d)).encode())
        print(f"{path}: MBS {d['mbs']['memory_bytes'] / 2**30:.0f} GiB, target KV "
              f"{d['models']['target']['kv_bytes_per_token']:.0f} B/token")


if __name__ == "__main__":
    main(sys.argv[1:])
