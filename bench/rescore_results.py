"""Re-score every shipped result with today's code: do the stored decisions still give the stored numbers?

    python bench/rescore_results.py                    # results/reference (P1 runs) and results/pipeline
    python bench/rescore_results.py results/reference

For a P1 comparison folder, each ``runs/<key>.json`` solution is verified on its instance (with the
run's parameter values) by :func:`uara.model.verify.verify_solution` (the ``uara validate`` check);
for a pipeline folder each ``pipeline_runs/*.json`` by
:func:`uara.model.pipeline.serving_solution.verify_serving_solution`. Prints, per folder, the runs
checked, the failures, and the largest relative difference between the stored and the re-scored
objective, with the package versions doing the re-scoring (the versions a result was *made* with
are in its manifest where it records them).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from uara.io import package_versions, read_json

ROOT = Path(__file__).resolve().parent.parent


def rescore_p1(folder: Path) -> tuple[int, list[str], float]:
    from uara.model.instance import Instance
    from uara.model.verify import verify_solution

    checked, failures, worst = 0, [], 0.0
    cache: dict[tuple[str, str], Instance] = {}
    for f in sorted((folder / "runs").glob("*.json")):
        data = read_json(f, what="run file")
        row, sol = data["row"], data.get("solution")
        if row["status"] == "error" or not sol or row.get("mode", "static") != "static":
            continue
        key = (row["instance_file"], row["params"])
        if key not in cache:
            inst = Instance.load(ROOT / row["instance_file"] if not Path(row["instance_file"]).is_absolute()
                                 else row["instance_file"])
            params = json.loads(row["params"])
            cache[key] = inst.with_params(**params) if params else inst
        try:
            got = verify_solution(sol, cache[key]).objective
        except Exception as exc:  # noqa: BLE001 - every failure is reported, not raised
            failures.append(f"{f.name}: {exc}")
            continue
        checked += 1
        worst = max(worst, abs(got - row["objective"]) / max(abs(row["objective"]), 1e-300))
    return checked, failures, worst


def rescore_pipeline(folder: Path) -> tuple[int, list[str], float]:
    import csv

    from uara.model.pipeline.serving_instance import PipelineInstance
    from uara.model.pipeline.serving_solution import verify_serving_solution

    checked, failures, worst = 0, [], 0.0
    cache: dict[str, PipelineInstance] = {}
    for row in csv.DictReader((folder / "pipeline_results.csv").open()):
        if row["status"] == "error":
            continue
        inst = cache.setdefault(row["instance_file"], PipelineInstance.load(ROOT / row["instance_file"]))
        try:
            got = verify_serving_solution(read_json(ROOT / row["solution_file"]), inst).objective_s
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{row['solution_file']}: {exc}")
            continue
        checked += 1
        worst = max(worst, abs(got - float(row["objective_s"])) / float(row["objective_s"]))
    return checked, failures, worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", default=[str(ROOT / "results" / "reference"), str(ROOT / "results" / "pipeline")])
    args = ap.parse_args()
    print("re-scored with " + ", ".join(f"{k} {v}" for k, v in package_versions().items() if v))
    bad = 0
    for name in args.folders:
        folder = Path(name)
        fn = rescore_pipeline if (folder / "pipeline_results.csv").exists() else rescore_p1
        checked, failures, worst = fn(folder)
        print(f"{folder}: {checked} runs re-scored, {len(failures)} failed, largest relative difference "
              f"{worst:.2e}" + (" (<= 1e-12)" if worst <= 1e-12 and not failures else ""))
        for line in failures[:10]:
            print("  " + line)
        bad += len(failures) + (0 if worst <= 1e-12 or math.isnan(worst) else 1)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
