"""The ``uara`` command line: one module per subcommand in this package.

Each module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a ``run(args) -> int``. Errors a user can cause are
:class:`uara.errors.UaraError` and print as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from uara.errors import UaraError

#: Subcommand modules, in the order ``uara --help`` lists them.
COMMANDS = (
    "solve", "inspect", "solvers", "validate", "export", "build", "psd", "train", "simulate", "compare", "report",
)


#: subcommands whose module has another name (module names are unique across the tree: uara.export is the API)
MODULES = {"export": "export_model"}


def build_parser() -> argparse.ArgumentParser:
    from uara import __version__

    parser = argparse.ArgumentParser(
        prog="uara",
        description="User association and resource allocation for collaborative LLM inference (P1 of Koh & Yang).",
    )
    parser.add_argument("--version", action="version", version=f"uara {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module_name = f"uara.cli.{MODULES.get(name, name)}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # that part of the toolkit is not in this installation
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UaraError as exc:
        print(f"uara: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a missing file, no permission, a full disk, a read-only folder: one line
        where = f": {exc.filename}" if exc.filename else ""
        print(f"uara: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("uara: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
