"""Executors for the comparison runner: ``serial`` (in process), ``process`` (concurrent.futures)
and ``dask`` (a distributed.Client's executor), with BLAS thread caps for process workers."""

from __future__ import annotations

import concurrent.futures as cf
import os
from typing import Any, Callable

from uara.errors import MissingDependencyError, UaraError


#: Environment variables that size the BLAS / OpenMP thread pools of libraries loaded later.
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads(threads: int) -> None:
    """Cap this process's BLAS / OpenMP thread pools at ``threads`` (process-pool initializer).

    Without it, every worker's OpenBLAS (numpy's and scipy's) starts one thread per
    core; with W workers on W cores their busy-waiting threads fight, and small BLAS
    calls (L-BFGS-B in the Lagrangian bound) ran 10-50x slower than in one process
    (measured: 0.16 s -> 3-15 s per slot). Sets the environment for libraries loaded
    later and calls ``openblas_set_num_threads`` on the OpenBLAS copies already loaded
    (found in /proc/self/maps; elsewhere only the environment is set).
    """
    import ctypes

    for key in THREAD_ENV:
        os.environ[key] = str(int(threads))
    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if "openblas" in line.lower() and line.rstrip().split()[-1].startswith("/")}
    except OSError:
        return
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("openblas_set_num_threads", "openblas_set_num_threads64_",
                     "scipy_openblas_set_num_threads", "scipy_openblas_set_num_threads64_"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn(ctypes.c_int(int(threads)))


def make_executor(kind: str = "process", workers: int | None = None, scheduler: Any = None,
                  threads: int = 1) -> tuple[cf.Executor | None, Callable[[], None]]:
    """(executor, close) for ``serial`` (None: run in process), ``process`` or ``dask``.

    Process workers run with ``threads`` BLAS threads each (:func:`limit_blas_threads`).
    ``scheduler`` for dask: an address (``tcp://host:8786``), a ``distributed.Client``
    or a ``LocalCluster``. No scheduling logic of our own: dask's executor does it.
    """
    if kind == "serial":
        return None, lambda: None
    if kind == "process":
        import multiprocessing as mp

        n = max(1, int(workers or os.cpu_count() or 1))
        ctx = mp.get_context("forkserver") if "forkserver" in mp.get_all_start_methods() else None
        ex = cf.ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=limit_blas_threads,
                                    initargs=(max(1, int(threads)),))
        return ex, lambda: ex.shutdown(wait=False, cancel_futures=True)
    if kind == "dask":
        try:
            from distributed import Client
        except ImportError:
            raise MissingDependencyError("distributed", "report", "--executor dask") from None
        if scheduler is None:
            raise UaraError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
        if isinstance(scheduler, Client):
            client, own = scheduler, False
        else:
            try:
                client, own = Client(scheduler, timeout="15s"), True
            except (OSError, TimeoutError) as exc:
                raise UaraError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
        ex = client.get_executor(pure=False)

        def close() -> None:
            if own:
                client.close()

        return ex, close
    raise UaraError(f"--executor must be serial, process or dask, got {kind!r}")
