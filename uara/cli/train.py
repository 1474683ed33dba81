"""`uara train masac`: train the TMA-MASAC policy (CleanRL-style loop in :mod:`uara.rl.trainer`).

Every hyperparameter flag is generated from :class:`uara.rl.train_args.MASACArgs`
(name, type, default and its docstring as help), so nothing is declared twice.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from uara.cli._common import add_dataclass_flags, dataclass_values
from uara.errors import MissingDependencyError, UaraError
from uara.io import check_output_path
from uara.rl.environment import FINAL_ALLOCATIONS
from uara.rl.train_args import FLAG_ALIASES, MASACArgs

#: Fields whose flags keep their earlier (narrower) choices.
_CHOICES = {"final_allocation": list(FINAL_ALLOCATIONS), "device": ["auto", "cpu", "cuda"]}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a learned solver (masac, masac-es, pref)",
        description=(
            "Train TMA-MASAC on random instances of varied size (plus the --instances files); "
            "writes the policy to --output, the full training state next to it (*.resume) and "
            "the learning curve (CSV + PNG) to --curve-dir. Every hyperparameter of MASACArgs is a flag. "
            "`uara train masac-es` trains the same actor by evolution strategies on the slot objective "
            "(uara.cli.train_es); `uara train pref` imitates a teacher's associations (uara.cli.train_pref)."
        ),
    )
    p.add_argument("algorithm", choices=["masac", "masac-es", "pref"], help="what to train")
    p.add_argument("--instances", default=None, metavar="PATH", help="instance file or folder of *.json added to the training pool")
    p.add_argument("--output", "-O", default="policies/masac.pt", metavar="FILE", help="policy checkpoint to write (the best by held-out evaluation; the last goes to FILE.last)")
    p.add_argument("--resume", action="store_true", help="continue from the *.resume next to --output")
    p.add_argument("--curve-dir", default=None, metavar="DIR", help="where to write learning_curve.csv/png (default: next to --output)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_hyperparameters(p.add_argument_group("hyperparameters (uara.rl.train_args.MASACArgs)"))
    from uara.cli.train_es import add_es_flags
    from uara.cli.train_pref import add_pref_flags

    add_es_flags(p)
    add_pref_flags(p)
    p.set_defaults(func=run)


def add_hyperparameters(group: Any) -> None:
    """One flag per MASACArgs field: ``--name-with-dashes`` (plus its alias), typed from the annotation."""
    add_dataclass_flags(group, MASACArgs, aliases=FLAG_ALIASES, choices=_CHOICES)


def hyperparameters(args: argparse.Namespace) -> MASACArgs:
    """MASACArgs from the flags (unset flags keep the dataclass defaults), range-checked."""
    return MASACArgs(**dataclass_values(args, MASACArgs)).check()


def _instance_files(path: str) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.json"))
        if not files:
            raise UaraError(f"--instances: no *.json files in {p}")
        return files
    if not p.is_file():
        raise UaraError(f"--instances: no such file or folder: {p}")
    return [p]


def run(args: argparse.Namespace) -> int:
    if args.algorithm == "pref":
        from uara.cli.train_pref import run_pref

        return run_pref(args)
    if args.algorithm == "masac-es":
        from uara.cli.train_es import run_es

        return run_es(args)
    try:
        from uara.rl.trainer import train
    except ImportError as exc:  # pragma: no cover - the module raises MissingDependencyError itself
        raise MissingDependencyError("torch", "rl", feature="uara train") from exc
    from uara.model.instance import Instance

    hp = hyperparameters(args)
    check_output_path(args.output, "--output")  # before training, not after it
    extra = [Instance.load(f) for f in _instance_files(args.instances)] if args.instances else []
    curve_dir = args.curve_dir or str(Path(args.output).parent)
    t0 = time.perf_counter()
    result = train(hp, output=args.output, extra_instances=extra, resume=args.resume, progress=not args.no_progress,
                   curve_dir=curve_dir, log=print)
    last = result.curve[-1] if result.curve else {}
    print(
        f"trained masac: {result.steps} steps, {time.perf_counter() - t0:.1f} s this run; "
        f"last eval reward {last.get('eval_reward', float('nan')):.4f}, best {result.best_reward:.4f} at step "
        f"{result.best_step} (zero action {last.get('zero_action_reward', float('nan')):.4f})"
    )
    print(f"wrote {args.output} (best), {result.last_policy_path} (last) and {curve_dir}/learning_curve.csv")
    return 0
