"""Helpers shared by the subcommands: loading inputs, parsing options, printing."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields
from typing import Any

from uara.model.instance import Instance


def add_dataclass_flags(group: Any, cls: type, *, prefix: str = "", dest: str = "hp_",
                        aliases: dict[str, str] | None = None, choices: dict[str, list] | None = None,
                        default_text: dict[str, str] | None = None) -> None:
    """One flag per field of the dataclass ``cls``: ``--<prefix><name-with-dashes>`` (plus its alias) stored
    as ``<dest><name>`` with default None (unset), typed from the annotation (bool: --x/--no-x; sizes
    tuple[tuple[int, int], ...]: 30x4,60x8; tuple[str, ...]: comma-separated; other tuples: integers),
    its attribute docstring as help followed by the default (``default_text`` overrides how it reads)."""
    from uara.rl.train_args import field_docs

    docs, aliases, choices, default_text = field_docs(cls), aliases or {}, choices or {}, default_text or {}
    for f in fields(cls):
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        flags = [f"--{prefix}{f.name.replace('_', '-')}"] + ([aliases[f.name]] if f.name in aliases else [])
        shown = default_text.get(f.name, _show(default))
        kw: dict[str, Any] = {"dest": f"{dest}{f.name}", "default": None,
                              "help": f"{docs.get(f.name, f.name)} (default {shown})"}
        typ = str(f.type)
        if typ == "bool":
            kw["action"] = argparse.BooleanOptionalAction
        elif typ.startswith("tuple[tuple"):
            kw.update(type=size_pairs, metavar="AxB,...")
        elif typ.startswith("tuple[str"):
            kw.update(type=_strings, metavar="FILE,...")
        elif typ.startswith("tuple"):
            kw.update(type=_ints, metavar="N,...")
        else:
            kw["type"] = {"int": int, "float": float}.get(typ, str)
            if f.name in choices:
                kw["choices"] = choices[f.name]
            else:
                kw["metavar"] = f.name.upper()
        group.add_argument(*flags, **kw)


def dataclass_values(args: argparse.Namespace, cls: type, dest: str = "hp_") -> dict[str, Any]:
    """The fields of ``cls`` whose flags (:func:`add_dataclass_flags`) were given, by field name."""
    return {f.name: getattr(args, f"{dest}{f.name}") for f in fields(cls) if getattr(args, f"{dest}{f.name}", None) is not None}


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join("x".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in value)
    return str(value)


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _strings(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def size_pairs(text: str) -> tuple[tuple[int, int], ...]:
    """An argparse type: ``30x4,60x8`` -> ((30, 4), (60, 8))."""
    try:
        return tuple((int(a), int(b)) for a, b in (t.split("x") for t in text.split(",") if t.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 30x4,60x8, got {text!r}") from None


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
