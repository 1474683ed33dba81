"""Make sure Dr.Jit (under Sionna RT) gets an LLVM it can run on, before it aborts.

Sionna RT runs its ray tracer on Dr.Jit's LLVM back-end on CPUs. Dr.Jit loads
``libLLVM`` at run time: with LLVM 15 or 16 (Debian 12's default) the first
ray-tracing kernel kills the process with SIGABRT, which Python cannot catch.
LLVM 19 works (Debian 12: ``apt-get install libllvm19``). So, before importing
Sionna RT in this process, :func:`ensure_llvm`

1. points ``DRJIT_LIBLLVM_PATH`` at the newest libLLVM >= 17 it finds, unless
   the variable is already set (then it is respected);
2. runs a tiny ray-tracing job in a child process (a few seconds, once per
   process), so that a bad library ends that child, not the caller, and turns
   the failure into a one-line :class:`~uara.errors.UaraError`.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import subprocess
import sys

from uara.errors import MissingDependencyError, UaraError

#: Oldest LLVM major version known to run Sionna RT's kernels (15 and 16 abort).
MIN_LLVM_MAJOR = 17
_SEARCH_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
                "/usr/local/lib", "/opt/homebrew/opt/llvm/lib", "/usr/local/opt/llvm/lib")
_INSTALL_HINT = "install LLVM >= 17 (Debian/Ubuntu: apt-get install libllvm19) or set DRJIT_LIBLLVM_PATH"

_PROBE = r"""
import mitsuba as mi
import sionna.rt as rt
scene = rt.load_scene(rt.scene.simple_street_canyon)
scene.tx_array = rt.PlanarArray(num_rows=1, num_cols=1, pattern="iso", polarization="V")
scene.rx_array = scene.tx_array
scene.add(rt.Transmitter(name="t", position=mi.Point3f(-30.0, 0.0, 30.0)))
scene.add(rt.Receiver(name="r", position=mi.Point3f(20.0, 5.0, 1.5)))
paths = rt.PathSolver()(scene, max_depth=1, samples_per_src=1000)
print("UARA_LLVM_PROBE_OK")
"""


def find_libllvm(min_major: int = MIN_LLVM_MAJOR) -> tuple[str | None, int | None]:
    """The newest ``libLLVM`` shared library with major version >= ``min_major``.

    Looks for ``libLLVM-N.so*``, ``libLLVM.so.N*`` and ``llvm-N/lib/libLLVM*.so*``
    (and macOS ``libLLVM.dylib``) in the usual library folders.

    Returns:
        (path, major) of the best match, or (None, None).
    """
    found: list[tuple[int, str]] = []
    for base in _SEARCH_DIRS:
        patterns = [os.path.join(base, "libLLVM-*.so*"), os.path.join(base, "libLLVM.so.*"),
                    os.path.join(base, "llvm-*", "lib", "libLLVM*.so*"), os.path.join(base, "libLLVM.dylib")]
        for pattern in patterns:
            for path in glob.glob(pattern):
                match = re.search(r"(?:llvm-|libLLVM-|libLLVM\.so\.)(\d+)", path)
                if match and int(match.group(1)) >= min_major and os.path.isfile(path):
                    found.append((int(match.group(1)), path))
    if not found:
        return None, None
    major, path = max(found)
    return path, major


def configure_llvm_env() -> str:
    """Set ``DRJIT_LIBLLVM_PATH`` (unless already set) and return the library path used.

    Raises:
        UaraError: no suitable libLLVM found, or the variable names a missing file.
    """
    current = os.environ.get("DRJIT_LIBLLVM_PATH")
    if current:
        if not os.path.isfile(current):
            raise UaraError(f"DRJIT_LIBLLVM_PATH={current} does not exist; {_INSTALL_HINT}")
        return current
    path, _major = find_libllvm()
    if path is None:
        older, _ = find_libllvm(min_major=1)
        seen = f" (found only {older}, which aborts Sionna RT)" if older else ""
        raise UaraError(f"Sionna RT needs libLLVM >= {MIN_LLVM_MAJOR}{seen}: {_INSTALL_HINT}")
    os.environ["DRJIT_LIBLLVM_PATH"] = path
    return path


@functools.lru_cache(maxsize=1)
def ensure_llvm(timeout_s: float = 300.0) -> str:
    """Check, once per process, that Sionna RT can trace rays here; return the libLLVM path.

    Raises:
        MissingDependencyError: sionna-rt is not installed.
        UaraError: no suitable libLLVM, or the probe child failed (its last
            line of output is quoted).
    """
    import importlib.util

    if importlib.util.find_spec("sionna") is None or importlib.util.find_spec("sionna.rt") is None:
        raise MissingDependencyError("sionna-rt", "sionna", "ray-traced channels")
    path = configure_llvm_env()
    env = dict(os.environ, DRJIT_LIBLLVM_PATH=path, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise UaraError(f"Sionna RT self-test did not finish in {timeout_s:.0f} s (libLLVM {path})") from None
    if proc.returncode != 0 or "UARA_LLVM_PROBE_OK" not in proc.stdout:
        lines = [ln for ln in (proc.stderr + proc.stdout).strip().splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else ""
        how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
        raise UaraError(f"Sionna RT self-test failed with libLLVM {path} ({how}): {last[:200]}; {_INSTALL_HINT}")
    return path
