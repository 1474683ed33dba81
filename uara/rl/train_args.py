"""The hyperparameters of a TMA-MASAC training run (no torch needed to read them).

``uara train`` generates its flags from :class:`MASACArgs` (each field's
docstring is its help text, :func:`field_docs`), so a hyperparameter is stated
once, here, CleanRL style.
"""

from __future__ import annotations

import ast
import inspect
import math
from dataclasses import dataclass, fields

from uara.errors import UaraError
from uara.rl.environment import BETA_Y, BETA_Z

#: Command-line names kept from before the flags were generated (field -> extra flag).
FLAG_ALIASES = {"total_steps": "--steps"}


@dataclass
class MASACArgs:
    """Every hyperparameter of a run; a run is reproducible from these and the instance list."""

    seed: int = 1
    """seed of numpy, torch, the instance generator and the environment"""
    total_steps: int = 6000
    """environment steps (one step = one slot of one instance)"""
    buffer_size: int = 20_000
    """replay buffer capacity (transitions)"""
    gamma: float = 0.9
    """discount per slot"""
    tau: float = 0.01
    """xi of the soft target update phi_bar <- xi phi + (1 - xi) phi_bar"""
    batch_size: int = 64
    learning_starts: int = 300
    """steps of uniformly random actions before learning"""
    policy_lr: float = 3e-4
    q_lr: float = 1e-3
    policy_frequency: int = 2
    """actor (and alpha) updates every this many critic updates (CleanRL's delayed update)"""
    alpha: float = 0.05
    """initial entropy coefficient"""
    autotune: bool = True
    """automatic entropy tuning towards H_target = -ACT_DIM per agent"""
    hidden: int = 64
    """width of every hidden layer"""
    beta_y: float = BETA_Y
    """bandwidth correction range: price factor exp(+-beta_y)"""
    beta_z: float = BETA_Z
    """compute correction range: weight factor exp(+-beta_z)"""
    final_allocation: str = "exact"
    """shares the environment scores: 'policy' (the policy's Y, Z, the paper's semantics) or 'exact'
    (exact allocation re-solved once TMA fixed the association: the policy only steers the association)"""
    init_scale: float = 3.0
    """std * sqrt(hidden) of the actor's mean head at init (3: the untrained corrections span the action
    range; ~0.01: the untrained policy is the zero action, i.e. starts at the exact-allocation prior)"""
    train_instances: int = 48
    """random training instances (sizes drawn from train_m x train_e)"""
    train_m: tuple[int, ...] = (30, 60, 90, 120, 150, 180)
    train_e: tuple[int, ...] = (4, 8, 12, 16, 20)
    train_slots: int = 6
    """slots per random training instance (episode length)"""
    preset: str = "credible"
    """build preset of the random training and evaluation instances (credible or paper-literal)"""
    eval_every: int = 500
    eval_sizes: tuple[tuple[int, int], ...] = ((30, 4), (60, 8), (90, 16), (120, 12), (150, 20), (180, 20))
    """held-out random instances (fixed seeds) of the periodic evaluation that picks the best checkpoint"""
    eval_slots: int = 4
    device: str = "auto"
    """'auto' (CUDA when present), 'cpu' or 'cuda'"""
    threads: int = 1
    """torch CPU threads"""

    def check(self) -> "MASACArgs":
        """One-line :class:`UaraError` naming the first value out of its range (``--gamma nan`` would train
        for a minute, write checkpoints and then fail); returns self."""
        for name in ("total_steps", "eval_every", "batch_size", "buffer_size", "hidden", "train_instances", "threads",
                     "policy_frequency", "train_slots", "eval_slots"):
            _check_int(name, getattr(self, name), 1)
        _check_int("seed", self.seed, 0)
        _check_int("learning_starts", self.learning_starts, 0)
        for name, ok, interval in (("gamma", lambda v: 0 <= v < 1, "[0, 1)"), ("tau", lambda v: 0 < v <= 1, "(0, 1]")):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and ok(v)):
                raise UaraError(f"--{_flag(name)} must be in {interval}, got {v}")
        for name in ("policy_lr", "q_lr", "alpha", "init_scale"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise UaraError(f"--{_flag(name)} must be a positive number, got {v}")
        for name in ("beta_y", "beta_z"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise UaraError(f"--{_flag(name)} must be a finite number >= 0, got {v}")
        return self


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UaraError(f"--{_flag(name)} must be >= {low}, got {value}")


def field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass (the string literal under each field), by field name."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, nxt in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(nxt, ast.Expr) \
                and isinstance(nxt.value, ast.Constant) and isinstance(nxt.value.value, str):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in docs.items() if k in names}
