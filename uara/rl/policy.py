"""The TMA-MASAC policy as the solver loads it: the per-device actor network and its checkpoint.

:class:`Actor` is pi(a_i | o_i), a tanh-Gaussian over ACT_DIM corrections per
device (observations (..., M, OBS_DIM) -> actions (..., M, ACT_DIM));
:func:`save_policy` / :func:`load_policy` write and read the small inference
checkpoint (``MASAC_CHECKPOINT_FORMAT``); :class:`Policy` maps features to the
deterministic action tanh(mean). Training is in :mod:`uara.rl.trainer`.
torch is imported here, never by ``import uara``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from uara.errors import MissingDependencyError, UaraError
from uara.rl.environment import ACT_DIM, BETA_Y, BETA_Z, FEATURE_SETS, FEATURES, OBS_DIM
from uara.rl.train_args import MASACArgs

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as _exc:  # pragma: no cover - exercised only without the rl extra
    raise MissingDependencyError("torch", "rl", feature="TMA-MASAC") from _exc

from uara.model.shared.formats import MASAC_CHECKPOINT_FORMAT as CHECKPOINT_FORMAT  # noqa: E402
LOG_STD_MAX = 2.0
LOG_STD_MIN = -5.0


# ------------------------------------------------------------------ networks
def mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for k in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """Per-device tanh-Gaussian policy pi(a_i | o_i); shapes (..., M, OBS_DIM) -> (..., M, ACT_DIM)."""

    def __init__(self, obs_dim: int = OBS_DIM, act_dim: int = ACT_DIM, hidden: int = 64, init_scale: float = 3.0):
        super().__init__()
        self.trunk = mlp([obs_dim, hidden, hidden])
        self.fc_mean = nn.Linear(hidden, act_dim)
        self.fc_logstd = nn.Linear(hidden, act_dim)
        # Untrained actors spread their corrections over the action range (not ~0), so
        # that "the trained policy beats the untrained one" measures learning.
        nn.init.normal_(self.fc_mean.weight, std=init_scale / math.sqrt(hidden))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.trunk(obs))
        mean = self.fc_mean(h)
        log_std = torch.tanh(self.fc_logstd(h))
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1)  # CleanRL's squashing
        return mean, log_std

    def get_action(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(sampled action, its log-prob per agent (..., M), deterministic action tanh(mean))."""
        mean, log_std = self(obs)
        std = log_std.exp()
        normal = torch.distributions.Normal(mean, std)
        x_t = normal.rsample()
        y_t = torch.tanh(x_t)
        log_prob = normal.log_prob(x_t) - torch.log(1 - y_t.pow(2) + 1e-6)
        return y_t, log_prob.sum(-1), torch.tanh(mean)


class Policy:
    """A trained actor for inference: :meth:`act` maps features (M, OBS_DIM) to the deterministic action tanh(mean)."""

    def __init__(self, actor: Actor, meta: dict[str, Any]):
        self.actor = actor.eval()
        self.meta = meta
        self.beta_y = float(meta.get("beta_y", BETA_Y))
        self.beta_z = float(meta.get("beta_z", BETA_Z))
        #: the observation it acts on, a key of FEATURE_SETS (checkpoints record the feature names)
        names = list(meta.get("features", FEATURES))
        self.feature_set = next((k for k, v in FEATURE_SETS.items() if list(v) == names), "base")
        #: the final_allocation the policy was trained under (checkpoints before it existed: 'policy')
        self.trained_final_allocation = str(meta.get("args", {}).get("final_allocation", "policy"))

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        mean, _ = self.actor(torch.as_tensor(obs, dtype=torch.float32))
        return torch.tanh(mean).numpy().astype(float)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UaraError("--device cuda requested but no CUDA device is available")
    return torch.device(name)


def save_policy(path: str | Path, actor: Actor, args: MASACArgs, extra: dict[str, Any] | None = None) -> Path:
    """Write the small inference checkpoint (actor weights + metadata), atomically."""
    state = {k: v.detach().cpu().clone() for k, v in actor.state_dict().items()}
    return save_actor_checkpoint(path, state, args.hidden, _jsonable(dataclasses.asdict(args)),
                                 beta_y=args.beta_y, beta_z=args.beta_z, extra=extra)


def save_actor_checkpoint(path: str | Path, state: dict[str, Any], hidden: int, args: dict[str, Any], *,
                          beta_y: float = BETA_Y, beta_z: float = BETA_Z, extra: dict[str, Any] | None = None,
                          features: Sequence[str] = FEATURES) -> Path:
    """The inference checkpoint :func:`load_policy` reads: an :class:`Actor` state dict of width ``hidden``,
    the features (one of FEATURE_SETS) and correction ranges it acts with, and ``args`` (the training run's
    record), atomically."""
    blob = {
        "format": CHECKPOINT_FORMAT,
        "features": list(features),
        "obs_dim": len(features),
        "act_dim": ACT_DIM,
        "hidden": hidden,
        "beta_y": beta_y,
        "beta_z": beta_z,
        "actor": state,
        "args": args,
        **(extra or {}),
    }
    return save_checkpoint_atomically(path, blob)


def save_checkpoint_atomically(path: str | Path, blob: dict[str, Any]) -> Path:
    """torch.save ``blob`` to ``path`` through a temporary file beside it (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(blob, tmp)
    tmp.replace(path)
    return path


def load_checked_checkpoint(path: str | Path, what: str, fmt: str, *features: Sequence[str]) -> dict[str, Any]:
    """:func:`load_checkpoint_data`, then a one-line error unless its format is ``fmt`` and it was trained on
    one of the feature lists ``features``."""
    blob = load_checkpoint_data(path, what)
    if blob.get("format") != fmt:
        raise UaraError(f"{path} is not a {fmt} checkpoint")
    if all(list(blob.get("features", [])) != list(f) for f in features):
        raise UaraError(f"{path} was trained on other features ({blob.get('features')}); retrain it")
    return blob


def load_policy(path: str | Path) -> Policy:
    """Load a checkpoint written by :func:`save_policy` (or a resume file); one-line errors."""
    path = Path(path)
    blob = load_checked_checkpoint(path, "policy checkpoint", CHECKPOINT_FORMAT, *FEATURE_SETS.values())
    try:
        actor = Actor(int(blob["obs_dim"]), int(blob["act_dim"]), int(blob["hidden"]), init_scale=0.0)
        actor.load_state_dict(blob["actor"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UaraError(f"{path}: malformed {CHECKPOINT_FORMAT} checkpoint ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else exc!r})") from None
    return Policy(actor, {k: v for k, v in blob.items() if k != "actor"})


def load_checkpoint_data(path: str | Path, what: str) -> dict[str, Any]:
    """Read a torch checkpoint as *data only*: ``torch.load(weights_only=True)`` admits tensors and
    plain containers (dict, list, tuple, str, int, float, bool, None) and refuses any other pickled
    object, so a crafted file cannot run code. Returns the top-level dict; one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise UaraError(f"{what} not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable or unsafe file is a user error here
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UaraError(f"cannot read {what} {path} as data (tensors and plain containers only): {first}") from None
    if not isinstance(blob, dict):
        raise UaraError(f"{path} is not a {what}: top level is {type(blob).__name__}, not a mapping")
    return blob


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x
