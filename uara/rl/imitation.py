"""Imitation training of the preference network (:mod:`uara.rl.preference`) on a teacher's associations.

One example is one slot with the teacher's association j*_i (``relax`` by default,
:mod:`uara.experiments.studies.teacher_associations`). The loss is the mean negative log-likelihood of the
teacher's server under each device's softmax over its usable servers,

    L(theta) = -(1 / sum_s M_s) sum_s sum_i log p_theta(j*_i | x_i.),   p_ij = softmax_{j usable}(r_ij),

minimised with Adam over mini-batches of slots (a slot's devices are one batch row; slots of different E are
summed, not padded). The instances are split by seed into a training part and a validation part
(``val_fraction``); the checkpoint kept is the one with the lowest validation loss, evaluated every
``eval_every`` steps. Seeded: the same examples and arguments give the same weights (single thread).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from uara.errors import UaraError
from uara.model.formulation import SlotData
from uara.rl.pair_features import PAIR_DIM, pair_features
from uara.rl.preference import PreferenceNet, masked_log_softmax

try:
    import torch
except ImportError as _exc:  # pragma: no cover
    from uara.errors import MissingDependencyError

    raise MissingDependencyError("torch", "rl", feature="uara train pref") from _exc


@dataclass
class ImitationArgs:
    """Every hyperparameter of :func:`train_preferences`."""

    steps: int = 3000
    """Adam steps"""
    batch_slots: int = 8
    """slots per mini-batch"""
    lr: float = 3e-3
    """Adam learning rate (cosine-decayed to lr / 20)"""
    weight_decay: float = 1e-5
    """L2 penalty on the weights"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden layer widths of the pair network"""
    val_fraction: float = 0.2
    """share of the instances (by seed) held out for model selection"""
    eval_every: int = 100
    """steps between validation passes"""
    seed: int = 1
    """seed of the initial weights, the split and the batches"""

    def check(self) -> None:
        if self.steps < 1 or self.batch_slots < 1 or self.eval_every < 1:
            raise UaraError("steps, batch_slots and eval_every must be >= 1")
        if not 0.0 <= self.val_fraction < 1.0:
            raise UaraError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.lr <= 0:
            raise UaraError(f"lr must be > 0, got {self.lr}")


@dataclass
class Example:
    """One slot as tensors: pair features (M, E, PAIR_DIM), usable mask (M, E), teacher servers (M,)."""

    x: torch.Tensor
    mask: torch.Tensor
    label: torch.Tensor
    group: str


@dataclass
class ImitationResult:
    net: PreferenceNet
    best_step: int
    curve: list[dict]
    train_s: float


def make_examples(pairs: Sequence[tuple[SlotData, np.ndarray]], groups: Sequence[str]) -> list[Example]:
    """Tensors of (slot data, teacher association) pairs; ``groups`` names each one's instance (for the split).
    Refuses a teacher that put a device on a server it cannot use."""
    out = []
    for (sd, assoc), group in zip(pairs, groups):
        x, mask = pair_features(sd)
        assoc = np.asarray(assoc, dtype=np.int64)
        inside = assoc.shape == (sd.num_devices,) and bool(np.all((assoc >= 0) & (assoc < sd.num_servers)))
        if not inside or not mask[np.arange(sd.num_devices), assoc].all():
            raise UaraError(f"teacher association of {group}: shape {assoc.shape} or an unusable pair")
        out.append(Example(torch.as_tensor(x), torch.as_tensor(mask), torch.as_tensor(assoc), group))
    return out


def nll_and_accuracy(net: PreferenceNet, batch: Sequence[Example]) -> tuple[torch.Tensor, float]:
    """(mean NLL over the batch's devices, share of devices whose argmax is the teacher's server)."""
    total, hits, n = torch.zeros(()), 0, 0
    for ex in batch:
        logp = masked_log_softmax(net(ex.x), ex.mask)
        total = total - logp.gather(1, ex.label[:, None]).sum()
        hits += int((logp.argmax(dim=1) == ex.label).sum())
        n += ex.label.numel()
    return total / max(n, 1), hits / max(n, 1)


def split_examples(examples: Sequence[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """(train, validation) by instance: a seeded ``fraction`` of the groups is held out."""
    groups = sorted({ex.group for ex in examples})
    rng = np.random.default_rng(seed)
    held = set(rng.choice(groups, size=int(round(fraction * len(groups))), replace=False)) if fraction > 0 else set()
    return [ex for ex in examples if ex.group not in held], [ex for ex in examples if ex.group in held]


def train_preferences(examples: Sequence[Example], args: ImitationArgs, log=None,
                      in_dim: int = PAIR_DIM) -> ImitationResult:
    """Adam on the imitation loss (module docstring); returns the network of the lowest validation loss
    (the last one when nothing is held out) and the curve (step, train and validation NLL and accuracy)."""
    args.check()
    torch.manual_seed(args.seed)
    train, val = split_examples(examples, args.val_fraction, args.seed)
    if not train:
        raise UaraError("no training examples left after the validation split")
    net = PreferenceNet(in_dim, hidden=args.hidden)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps, eta_min=args.lr / 20)
    rng = np.random.default_rng(args.seed)
    best, best_step, curve = None, 0, []
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        idx = rng.choice(len(train), size=min(args.batch_slots, len(train)), replace=False)
        loss, _ = nll_and_accuracy(net, [train[k] for k in idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % args.eval_every == 0 or step == args.steps:
            with torch.no_grad():
                tr_nll, tr_acc = nll_and_accuracy(net, train)
                va_nll, va_acc = nll_and_accuracy(net, val) if val else (tr_nll, tr_acc)
            row = {"step": step, "train_nll": float(tr_nll), "train_accuracy": tr_acc, "val_nll": float(va_nll),
                   "val_accuracy": va_acc, "time_s": time.perf_counter() - t0}
            curve.append(row)
            if best is None or row["val_nll"] < best[0]:
                best = (row["val_nll"], {k: v.clone() for k, v in net.state_dict().items()})
                best_step = step
            if log:
                log(f"step {step}: train nll {row['train_nll']:.4f} acc {tr_acc:.3f} | val nll {row['val_nll']:.4f} "
                    f"acc {va_acc:.3f}")
    net.load_state_dict(best[1])
    return ImitationResult(net.eval(), best_step, curve, time.perf_counter() - t0)


def args_record(args: ImitationArgs) -> dict:
    """The arguments as plain data (for the checkpoint's metadata)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(args).items()}
