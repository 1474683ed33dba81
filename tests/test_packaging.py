"""Packaging that cannot silently break: every package folder is in the wheel, and the wheel alone
(no source tree on the path) runs `uara solve` on a shipped P1 instance and on a pipeline instance.

A wheel once shipped without ``uara.model.pipeline`` and then failed every P1 solve with a traceback;
the suite, which runs from the source tree, never saw it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"uara": "uara", "solvers": "uara.solvers", "psd": "uara.psd"}


def package_folders() -> set[str]:
    out = set()
    for folder, pkg in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            out.add(".".join([pkg, *rel.parts]))
    return out


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert package_folders() - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - package_folders() == set(), "listed but no such package folder"


def test_the_wheel_alone_solves_both_families(tmp_path):
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(ROOT)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(wheels.glob("uara-*.whl"))
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "uara/py.typed" in names  # PEP 561: type checkers read the package's annotations
    for pkg in package_folders():
        assert "/".join(pkg.split(".")) + "/__init__.py" in names, f"{pkg} missing from the wheel"
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    # pip of the outer interpreter installs into the venv's site-packages (--prefix), deps from the system site
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target", site,
                           str(wheel)], capture_output=True, text=True, timeout=600)
    assert inst.returncode == 0, inst.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = tmp_path / "run"
    run.mkdir()

    def uara(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(py), "-m", "uara", *args], capture_output=True, text=True, cwd=run, env=env,
                              timeout=600)

    where = subprocess.run([str(py), "-c", "import uara.solvers, uara.psd; print(uara.__file__)"], capture_output=True,
                           text=True, cwd=run, env=env)
    assert where.stdout.strip().startswith(site), where.stdout + where.stderr  # the wheel's copy, not the source tree
    p1 = uara("solve", str(ROOT / "instances" / "m30_e8.json"), "--solver", "max-sinr", "--no-latency", "--quiet")
    assert p1.returncode == 0 and "Traceback" not in p1.stderr, p1.stderr[-2000:]
    assert uara("build", "--problem", "pipeline", "--users", "5", "--seed", "1", "-O", str(run / "p.json")).returncode == 0
    pipe = uara("solve", str(run / "p.json"), "--solver", "pipeline-dp", "--quiet")
    assert pipe.returncode == 0 and "Traceback" not in pipe.stderr, pipe.stderr[-2000:]
