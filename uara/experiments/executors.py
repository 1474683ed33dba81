"""Executors for the comparison runner: ``serial`` (in process), ``process`` (concurrent.futures)
and ``dask`` (a distributed.Client's executor), with BLAS thread caps for process workers."""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
from typing import Any, Callable, Sequence

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


def init_worker(threads: int, main_pid: int) -> None:
    """Process-pool initializer: cap the BLAS threads (:func:`limit_blas_threads`) and die with the
    campaign: on Linux the kernel kills the worker when its parent (the fork server) exits
    (PR_SET_PDEATHSIG), and a watchdog thread exits it within a second of the main process's
    disappearance (``kill -9`` of ``uara compare`` leaves no worker behind, even one blocked
    writing its result)."""
    limit_blas_threads(threads)
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    import threading

    def watch() -> None:
        while True:
            time.sleep(0.5)
            try:
                os.kill(main_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:
                pass

    threading.Thread(target=watch, name="uara-parent-watch", daemon=True).start()


def process_pool(workers: int, threads: int) -> cf.ProcessPoolExecutor:
    """A pool of ``workers`` fork-server processes set up by :func:`init_worker` (BLAS caps, dying with us)."""
    import multiprocessing as mp

    ctx = mp.get_context("forkserver") if "forkserver" in mp.get_all_start_methods() else None
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker,
                                  initargs=(max(1, int(threads)), os.getpid()))


def run_isolated(specs: Sequence[Any], fn: Callable[[Any], Any], on_result: Callable[[Any], None],
                 on_death: Callable[[Any], None], threads: int = 1) -> None:
    """Run each spec in a fresh one-worker process pool, so that a run which kills its worker (an
    out-of-memory kill, a crash in native code) is reported by ``on_death(spec)`` and the others go on."""
    from concurrent.futures.process import BrokenProcessPool

    for spec in specs:
        ex = process_pool(1, threads)
        try:
            result = ex.submit(fn, spec).result()
        except BrokenProcessPool:
            on_death(spec)
            continue
        finally:
            ex.shutdown(wait=False, cancel_futures=True)
        on_result(result)


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
        ex = process_pool(max(1, int(workers or os.cpu_count() or 1)), threads)
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


def run_all(todo: Sequence[Any], execute: Callable[[Any], Any], store: Callable[[Any], None],
            died: Callable[[Any], Any], *, executor: str = "serial", workers: int | None = None,
            scheduler: Any = None, threads: int = 1) -> None:
    """The campaign loop of every problem family: run ``execute(spec)`` for each spec of ``todo`` on the
    chosen executor and ``store(result)`` in this process as each finishes.

    ``execute`` is a picklable top-level function that never raises for a run's failure (the failure
    comes back in its result: one failure policy, an error row). Specs have a ``key``. If a process
    worker dies (``BrokenProcessPool``: an out-of-memory kill, a crash in native code), the runs not
    yet stored are run again one per fresh process, and a run that kills its worker again is stored
    as ``died(spec)``.
    """
    from concurrent.futures.process import BrokenProcessPool

    ex, close = make_executor(executor, workers, scheduler, threads=threads)
    pending = {spec.key: spec for spec in todo}
    broken = False
    try:
        if ex is None:
            for spec in todo:
                store(execute(spec))
        else:
            futures = [ex.submit(execute, spec) for spec in todo]
            try:
                for fut in cf.as_completed(futures):
                    res = fut.result()
                    store(res)
                    pending.pop(res.spec.key, None)
            except BrokenProcessPool:
                broken = True
    finally:
        close()
    if broken and pending:
        run_isolated(list(pending.values()), execute, store, lambda spec: store(died(spec)), threads=threads)
