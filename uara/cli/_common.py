"""Helpers shared by the subcommands: loading inputs, parsing options, printing."""

from __future__ import annotations

import argparse

from uara.model.instance import Instance


def load_instance(path: str) -> Instance:
    return Instance.load(path)


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
