"""`uara solvers`: list back-ends, whether each is installed, and their options."""

from __future__ import annotations

import argparse
import dataclasses


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("solvers", help="list solver back-ends and whether each is installed",
                       description="List the registered back-ends with their capabilities and install state.")
    p.add_argument("--options", metavar="NAME", default=None, help="show the options of one back-end")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from uara.solvers import get_solver_class, list_solvers

    if args.options:
        cls = get_solver_class(args.options)
        print(f"{cls.name}: {cls.description}")
        doc = (cls.Options.__doc__ or "").strip()
        for f in dataclasses.fields(cls.Options):
            default = f.default if f.default is not dataclasses.MISSING else "(required)"
            print(f"  --option {f.name}={default}   [{f.type}]")
        if doc and not doc.startswith(cls.Options.__name__):
            print(f"  {doc}")
        return 0
    rows = list_solvers()
    print(f"{'name':<21} {'problem':<9} {'installed':<10} {'exact':<6} {'bound':<6} description")
    for r in rows:
        inst = "yes" if r["installed"] else "no"
        desc = r.get("description") or ""
        if not r["installed"]:
            extra = r.get("extra")
            desc = f"{desc} [missing {r.get('missing')}{'; pip install uara[' + extra + ']' if extra else ''}]".strip()
        print(f"{r['name']:<21} {r.get('problem', 'p1'):<9} {inst:<10} {'yes' if r.get('exact') else 'no':<6} {'yes' if r.get('provides_bound') else 'no':<6} {desc}")
    return 0
