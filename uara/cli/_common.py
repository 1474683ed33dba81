"""Helpers shared by the subcommands: loading inputs, parsing options, printing."""

from __future__ import annotations

import argparse
from typing import Any

from uara.model.instance import Instance


def load_instance(path: str) -> Instance:
    return Instance.load(path)


def load_any_instance(path: str) -> tuple[Any, Any]:
    """(family, instance) of an instance file of any problem family (:func:`uara.model.shared.family.load_instance_file`)."""
    from uara.model.shared.family import load_instance_file

    return load_instance_file(path)


def add_server_model_argument(p: argparse.ArgumentParser) -> None:
    """``--server-model reserved|batched``: the server of the simulated latencies (docs/server.md)."""
    p.add_argument("--server-model", choices=["reserved", "batched"], default=None,
                   help="server of the simulated latency: reserved (the paper's compute shares) or batched "
                        "(work-conserving batching; the credible preset's); default: the instance's params.server_model")


def with_server_model(instance, server_model: str | None):
    """The instance with ``params.server_model`` overridden (the fingerprint does not change)."""
    return instance if server_model is None else instance.with_params(server_model=server_model)


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """--time-limit, --seed, --threads, --option: shared by solve, simulate and compare."""
    p.add_argument("--time-limit", type=float, default=None, metavar="S", help="wall-clock limit in seconds for the whole solve")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--threads", type=int, default=1, help="threads a back-end may use (default 1)")
    p.add_argument("--option", "-o", action="append", metavar="KEY=VALUE", help="solver option, repeatable (see `uara solvers --options NAME`)")


def fmt(x: float | None, digits: int = 6) -> str:
    if x is None:
        return "n/a"
    return f"{x:.{digits}g}"


def emit_solution(args: argparse.Namespace, record: dict, save: Any, summary_text: Any, violations: list) -> int:
    """What `uara solve` does with a solution of either family: ``--output`` (atomic), ``--json`` or the
    summary, and one error line per violation (exit 1) for an infeasible one."""
    import sys

    from uara.io import dumps_json

    if args.output:
        save(args.output)
    if args.json:
        sys.stdout.write(dumps_json(record))
    else:
        print(summary_text())
        if args.output:
            print(f"wrote {args.output}")
    for v in violations[:5]:
        print(f"uara: error: infeasible solution: {v}", file=sys.stderr)
    return 1 if violations else 0
