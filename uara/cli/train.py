"""`uara train masac`: train the TMA-MASAC policy (CleanRL-style loop in :mod:`uara.rl.trainer`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from uara.errors import MissingDependencyError, UaraError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a learned solver (masac)",
        description=(
            "Train TMA-MASAC on random instances of varied size (plus the --instances files); "
            "writes the policy to --output, the full training state next to it (*.resume) and "
            "the learning curve (CSV + PNG) to --curve-dir."
        ),
    )
    p.add_argument("algorithm", choices=["masac"], help="what to train")
    p.add_argument("--instances", default=None, metavar="PATH", help="instance file or folder of *.json added to the training pool")
    p.add_argument("--steps", type=int, default=6000, help="environment steps (slots) in total (default 6000)")
    p.add_argument("--seed", type=int, default=1, help="seed of every random choice (default 1)")
    p.add_argument("--output", "-O", default="policies/masac.pt", metavar="FILE", help="policy checkpoint to write (the best by held-out evaluation; the last goes to FILE.last)")
    p.add_argument("--resume", action="store_true", help="continue from the *.resume next to --output")
    p.add_argument("--eval-every", type=int, default=500, metavar="N", help="evaluate and checkpoint every N steps")
    p.add_argument("--curve-dir", default=None, metavar="DIR", help="where to write learning_curve.csv/png (default: next to --output)")
    p.add_argument("--train-instances", type=int, default=48, metavar="N", help="random training instances (default 48)")
    p.add_argument("--final-allocation", default="exact", choices=["exact", "policy"],
                   help="shares the reward scores: 'exact' (re-solved after TMA; the policy steers the association) "
                        "or 'policy' (the policy's Y, Z, the paper's semantics); default exact")
    p.add_argument("--init-scale", type=float, default=3.0, metavar="S",
                   help="actor mean-head init std * sqrt(hidden) (3: random corrections; 0.01: start at the zero action)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="torch device (auto: CUDA when present)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


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
    try:
        from uara.rl.trainer import MASACArgs, train
    except ImportError as exc:  # pragma: no cover - the module raises MissingDependencyError itself
        raise MissingDependencyError("torch", "rl", feature="uara train") from exc
    from uara.model.instance import Instance

    if args.steps < 1:
        raise UaraError(f"--steps must be >= 1, got {args.steps}")
    if args.eval_every < 1:
        raise UaraError(f"--eval-every must be >= 1, got {args.eval_every}")
    extra = [Instance.load(f) for f in _instance_files(args.instances)] if args.instances else []
    hp = MASACArgs(
        seed=args.seed, total_steps=args.steps, eval_every=args.eval_every, train_instances=args.train_instances,
        device=args.device, threads=args.threads, final_allocation=args.final_allocation, init_scale=args.init_scale,
    )
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
