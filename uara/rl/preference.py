"""Learned per-device server preferences: the extended action of uara's learned solver (``pref``).

The paper's TMA-MASAC action (:mod:`uara.rl.environment`) only rescales each device's energy price and compute
weight; its association comes from Max-SINR plus TMA's moves, and the headroom study
(``results/masac/headroom.json``) found that even the best action of that space stays 8.5 % (uara's moves) and
74 % (the paper's swaps) above the best known decision: it cannot express good associations. The extended action
is a *preference* r_ij for every usable pair (device i, server j), scored by one small network shared by all
pairs (so one policy serves any M and E):

    r_ij = f_theta(x_ij),    candidates  K_i = the k usable servers of largest r_ij,

with the pair features x_ij of :func:`uara.rl.pair_features.pair_features` (the device's own link and task, the pair's uplink, server
work, energy and queue relative to the device's best, and the marginal cost of joining j under the exact
allocation's compute weights on the Max-SINR association). The back-end ``learned-pref``
(:mod:`uara.solvers.p1.masac`) keeps each device's ``k`` most preferred servers as its candidates, builds an
association by priced insertion within them (:mod:`uara.solvers.core.insertion`), improves it by the exact
move/swap search within the same lists and re-solves the allocation exactly: the preferences decide where
each device may go, the insertion and the search decide the loads. (Taking argmax_j r_ij directly puts too
many devices on the servers that look cheap alone: 3928 against 2742 for relax at random 1000x50.)

Training (:mod:`uara.rl.imitation`) maximises the log-likelihood of a teacher's association under the softmax
over each device's usable servers, p_ij = exp(r_ij) / sum_{k usable} exp(r_ik) (imitation of ``relax``).
The *zero action* of this space is r_ij = log SNR_ij (:func:`uara.rl.pair_features.zero_preferences`: Max-SINR as TMA's phase 1
starts, candidates by SNR): the ablation that measures what the learning adds. (The hand-made
r_ij = -log join_ij is worse: it matches relax's server for 26 % of the devices, Max-SINR for 50 %.)

torch is imported here, never by ``import uara``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from uara.errors import MissingDependencyError, UaraError
from uara.model.formulation import SlotData
from uara.rl.pair_features import PAIR_DIM, PAIR_FEATURES, pair_features

try:
    import torch
    import torch.nn as nn
except ImportError as _exc:  # pragma: no cover - exercised only without the rl extra
    raise MissingDependencyError("torch", "rl", feature="the learned-preference solver") from _exc

from uara.model.shared.formats import PREF_CHECKPOINT_FORMAT as CHECKPOINT_FORMAT  # noqa: E402

class PreferenceNet(nn.Module):
    """r_ij = f_theta(x_ij): an MLP over pair features, shapes (..., PAIR_DIM) -> (...)."""

    def __init__(self, pair_dim: int = PAIR_DIM, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        sizes = [pair_dim, *hidden, 1]
        layers: list[nn.Module] = []
        for k in range(len(sizes) - 1):
            layers.append(nn.Linear(sizes[k], sizes[k + 1]))
            if k < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.body = nn.Sequential(*layers)
        self.hidden = tuple(int(h) for h in hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).squeeze(-1)


def masked_log_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log p_ij = r_ij - log sum_{k usable} exp(r_ik) over the last axis; -inf where unusable."""
    return torch.log_softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


class PreferencePolicy:
    """A trained preference network for inference: :meth:`preferences` maps a slot to r (M, E)."""

    def __init__(self, net: PreferenceNet, meta: dict[str, Any]):
        self.net = net.eval()
        self.meta = meta

    @torch.no_grad()
    def preferences(self, sd: SlotData) -> np.ndarray:
        """r (M, E) float, -inf on unusable pairs."""
        x, mask = pair_features(sd)
        r = self.net(torch.as_tensor(x)).numpy().astype(float)
        return np.where(mask, r, -np.inf)


def save_preference_policy(path: str | Path, net: PreferenceNet, meta: dict[str, Any]) -> Path:
    """Write the inference checkpoint (weights and metadata: plain containers only), atomically."""
    from uara.rl.policy import save_checkpoint_atomically

    blob = {"format": CHECKPOINT_FORMAT, "features": list(PAIR_FEATURES), "hidden": list(net.hidden),
            "weights": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}, **meta}
    return save_checkpoint_atomically(path, blob)


def load_preference_policy(path: str | Path) -> PreferencePolicy:
    """Load a checkpoint of :func:`save_preference_policy` as data only; one-line errors."""
    from uara.rl.policy import load_checked_checkpoint

    path = Path(path)
    blob = load_checked_checkpoint(path, "preference checkpoint", CHECKPOINT_FORMAT, PAIR_FEATURES)
    try:
        net = PreferenceNet(PAIR_DIM, tuple(int(h) for h in blob["hidden"]))
        net.load_state_dict(blob["weights"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UaraError(f"{path}: malformed {CHECKPOINT_FORMAT} checkpoint ({type(exc).__name__})") from None
    return PreferencePolicy(net, {k: v for k, v in blob.items() if k != "weights"})
