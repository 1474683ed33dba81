"""`uara train pref`: the learned-preference solver's teacher data and imitation training.

Step 1 runs the teacher (``relax``, ``--teacher-limit`` seconds per slot) on every slot of seeded random
credible instances of ``--pref-sizes`` x ``--pref-seeds`` and keeps the associations in ``--teacher-file``
(resumable: rows already there are skipped). Step 2 trains the preference network on them
(:func:`uara.rl.imitation.train_preferences`) and writes the checkpoint to ``--output``.
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

from uara.errors import UaraError
from uara.io import check_output_path

DEFAULT_SIZES = "30x4,30x8,30x12,30x16,30x20,60x4,60x8,60x12,60x16,60x20,90x4,90x8,90x12,90x16,90x20," \
                "120x4,120x8,120x12,120x16,120x20,150x4,150x8,150x12,150x16,150x20,180x4,180x8,180x12,180x16,180x20"


def add_pref_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("pref (imitation of a teacher; the masac hyperparameters are ignored)")
    g.add_argument("--teacher-file", default="runs/pref/teacher.json", metavar="FILE",
                   help="teacher associations (made or resumed here; default runs/pref/teacher.json)")
    g.add_argument("--teacher", default="relax", help="back-end whose associations are imitated (default relax)")
    g.add_argument("--teacher-limit", type=float, default=10.0, metavar="S", help="seconds per slot for the teacher (default 10)")
    g.add_argument("--pref-sizes", default=DEFAULT_SIZES, metavar="MxE,...", help="training sizes (default M 30..180 x E 4..20)")
    g.add_argument("--pref-seeds", default="20000,21000", metavar="S,...", help="instance seeds per size (default 20000,21000)")
    g.add_argument("--pref-slots", type=int, default=2, metavar="N", help="slots per instance (default 2)")
    g.add_argument("--pref-steps", type=int, default=3000, metavar="N", help="Adam steps (default 3000)")
    g.add_argument("--pref-seed", type=int, default=1, metavar="N", help="seed of the weights, split and batches (default 1)")


def _sizes(text: str) -> list[tuple[int, int]]:
    try:
        out = [(int(a), int(b)) for a, b in (t.split("x") for t in text.split(",") if t.strip())]
    except ValueError:
        raise UaraError(f"--pref-sizes: expected sizes like 30x4,60x8, got {text!r}") from None
    if not out or any(m < 1 or e < 1 for m, e in out):
        raise UaraError(f"--pref-sizes: every size needs M >= 1 and E >= 1, got {text!r}")
    return out


def _seeds(text: str) -> list[int]:
    try:
        out = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise UaraError(f"--pref-seeds: expected comma-separated integers, got {text!r}") from None
    if not out:
        raise UaraError("--pref-seeds: give at least one seed")
    return out


def run_pref(args: argparse.Namespace) -> int:
    import torch

    from uara.experiments.studies.teacher_associations import build_teacher_file, teacher_examples, training_jobs
    from uara.io import package_versions
    from uara.rl.imitation import ImitationArgs, args_record, make_examples, train_preferences
    from uara.rl.preference import save_preference_policy

    output = "policies/pref.pt" if args.output == "policies/masac.pt" else args.output
    check_output_path(output, "--output")
    if args.pref_slots < 1 or args.teacher_limit <= 0:
        raise UaraError("--pref-slots must be >= 1 and --teacher-limit > 0")
    hp = ImitationArgs(steps=args.pref_steps, seed=args.pref_seed)
    hp.check()
    jobs = training_jobs(_sizes(args.pref_sizes), _seeds(args.pref_seeds), slots=args.pref_slots)
    t0 = time.perf_counter()
    doc = build_teacher_file(jobs, args.teacher_file, teacher=args.teacher, limit_s=args.teacher_limit)
    keys = [j.key for j in jobs]
    rows = {k: doc["rows"][k] for k in keys}
    teach_s = time.perf_counter() - t0
    torch.set_num_threads(1)
    examples = make_examples(teacher_examples({"rows": rows}), [k.split("/")[0] for k in keys])
    res = train_preferences(examples, hp, log=None if args.no_progress else print)
    meta: dict[str, Any] = {
        "args": args_record(hp), "teacher": args.teacher, "teacher_limit_s": args.teacher_limit,
        "sizes": args.pref_sizes, "seeds": args.pref_seeds, "slots": args.pref_slots, "examples": len(examples),
        "best_step": res.best_step, "curve": res.curve, "train_s": res.train_s,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(), "versions": package_versions(),
    }
    save_preference_policy(output, res.net, meta)
    best = min(res.curve, key=lambda r: r["val_nll"])
    print(f"trained pref on {len(examples)} slots: teacher {teach_s:.1f} s (resumed rows free), training "
          f"{res.train_s:.1f} s; best step {res.best_step}: val nll {best['val_nll']:.4f}, val accuracy "
          f"{best['val_accuracy']:.3f}; wrote {output}")
    return 0
