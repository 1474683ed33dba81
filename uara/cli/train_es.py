"""`uara train masac-es`: masac's actor trained by evolution strategies on the slot objective.

Every flag is generated from :class:`uara.experiments.studies.policy_evolution.ESArgs` as ``--es-<name>``
(its docstring is the help). The run is resumable: ``<output>.resume`` is rewritten after every validation
pass and a rerun of the same command continues from it. Writes a masac checkpoint that ``--solver masac``
(``--es-semantics paper``) or ``--solver masac-uara`` (``uara``) loads with ``-o policy=FILE``, plus the
learning curve as CSV next to it.
"""

from __future__ import annotations

import argparse
import csv
import platform
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from uara.errors import UaraError
from uara.io import atomic_write_text, check_output_path


def add_es_flags(p: argparse.ArgumentParser) -> None:
    """One ``--es-<name>`` flag per ESArgs field (defaults shown; sizes as 30x4,60x8,...)."""
    from uara.experiments.studies.policy_evolution import ESArgs
    from uara.rl.train_args import field_docs

    g = p.add_argument_group("masac-es (evolution strategies on masac's actor; the SAC hyperparameters are ignored)")
    docs = field_docs(ESArgs)
    for f in fields(ESArgs):
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        kw: dict[str, Any] = {"dest": f"es_{f.name}", "default": None}
        if f.name == "sizes":
            kw.update(type=_sizes, metavar="MxE,...", help=f"{docs[f.name]} (default M 30..180 x E 4..20)")
        elif f.name.endswith("_files"):
            kw.update(type=_files, metavar="FILE,...", help=f"{docs[f.name]} (default none)")
        else:
            kw.update(type={"int": int, "float": float}.get(str(f.type), str), metavar=f.name.upper(),
                      help=f"{docs.get(f.name, f.name)} (default {default})")
        g.add_argument(f"--es-{f.name.replace('_', '-')}", **kw)


def _sizes(text: str) -> tuple[tuple[int, int], ...]:
    try:
        return tuple((int(a), int(b)) for a, b in (t.split("x") for t in text.split(",") if t.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 30x4,60x8, got {text!r}") from None


def _files(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def es_arguments(args: argparse.Namespace) -> Any:
    """ESArgs from the ``--es-*`` flags (unset flags keep the defaults), range-checked."""
    from uara.experiments.studies.policy_evolution import ESArgs

    values = {f.name: getattr(args, f"es_{f.name}") for f in fields(ESArgs) if getattr(args, f"es_{f.name}", None) is not None}
    return ESArgs(**values).check()


def run_es(args: argparse.Namespace) -> int:
    from uara.experiments.studies.policy_evolution import save_es_policy, train_es
    import numpy as np

    from uara.io import package_versions

    output = "policies/masac_es.pt" if args.output == "policies/masac.pt" else args.output
    check_output_path(output, "--output")
    hp = es_arguments(args)
    resume = Path(output + ".resume")
    if resume.exists() and not args.resume:
        raise UaraError(f"{resume} exists: pass --resume to continue that run, or delete it")
    run = train_es(hp, resume=resume, log=None if args.no_progress else print)
    meta = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(), "versions": package_versions()}
    save_es_policy(output, run, hp, extra=meta)
    curve_dir = Path(args.curve_dir or Path(output).parent)
    curve_path = curve_dir / f"{Path(output).stem}_learning_curve.csv"
    write_curve_csv(curve_path, run.curve)
    resume.unlink(missing_ok=True)  # the run is complete: its checkpoint and curve are written
    print(f"trained masac-es ({hp.semantics} semantics) on {run.train_slots} slots in {run.wall_s:.1f} s; kept "
          f"iteration {run.best_iteration}: validation gain over the zero action mean {100 * run.val_gains.mean():.3f} %, "
          f"median {100 * float(np.median(run.val_gains)):.3f} % on {run.val_slots} slots; "
          f"wrote {output} and {curve_path}")
    return 0


def write_curve_csv(path: Path, curve: list[dict]) -> None:
    """The learning curve, one row per validation pass, written atomically."""
    if not curve:
        raise UaraError("the ES run recorded no validation pass")
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(curve[0]))
    w.writeheader()
    w.writerows(curve)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, buf.getvalue())
