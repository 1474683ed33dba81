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
from pathlib import Path
from typing import Any

from uara.cli._common import add_dataclass_flags, dataclass_values
from uara.errors import UaraError
from uara.io import atomic_write_text, check_output_path


def add_es_flags(p: argparse.ArgumentParser) -> None:
    """One ``--es-<name>`` flag per ESArgs field (defaults shown; sizes as 30x4,60x8,...)."""
    from uara.experiments.studies.policy_evolution import ESArgs

    g = p.add_argument_group("masac-es (evolution strategies on masac's actor; the SAC hyperparameters are ignored)")
    add_dataclass_flags(g, ESArgs, prefix="es-", dest="es_",
                        default_text={"sizes": "M 30..180 x E 4..20", "train_files": "none", "val_files": "none"})


def es_arguments(args: argparse.Namespace) -> Any:
    """ESArgs from the ``--es-*`` flags (unset flags keep the defaults), range-checked."""
    from uara.experiments.studies.policy_evolution import ESArgs

    return ESArgs(**dataclass_values(args, ESArgs, "es_")).check()


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
