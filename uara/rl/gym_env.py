"""The environment under gymnasium's and PettingZoo's names.

* ``gymnasium.make("uara/UARA-v0", ...)`` (registered when :mod:`uara.rl` is imported; without that
  import, ``gymnasium.make("uara.rl:uara/UARA-v0")``) builds :class:`~uara.rl.environment.UARAEnv`
  with fixed, padded spaces (``max_devices``), so ``gymnasium.vector.SyncVectorEnv`` works over
  instances of different sizes. Instances: ``instances`` (loaded :class:`Instance` objects or file
  paths), else ``num_instances`` seeded random ones per size in ``sizes`` ((M, E) pairs, the credible
  parameter set, ``slots`` slots each).
* :class:`UARAParallelEnv`: a PettingZoo ``ParallelEnv`` view, one agent per device (``device_0``,
  ...), the paper's multi-agent structure: each agent observes its own features (OBS_DIM,) and
  acts (2,); the team shares one reward, r(t) of the single-agent environment.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from uara.errors import UaraError
from uara.model.instance import Instance
from uara.rl.environment import ACT_DIM, OBS_DIM, UARAEnv

#: the id ``gymnasium.make`` knows once :mod:`uara.rl` is imported
ENV_ID = "uara/UARA-v0"


def load_instances(instances: Sequence[Instance | str | os.PathLike] | None, *,
                   sizes: Sequence[tuple[int, int]] = ((30, 8),), num_instances: int = 2, slots: int = 4,
                   seed: int = 0) -> list[Instance]:
    """``instances`` loaded (paths) or as given; without them, ``num_instances`` random credible instances
    of each (M, E) in ``sizes``, seeded from ``seed``."""
    if instances:
        return [inst if isinstance(inst, Instance) else Instance.load(inst) for inst in instances]
    from uara.scenario.random_instance import random_instance

    try:
        pairs = [(int(m), int(e)) for m, e in sizes]
    except (TypeError, ValueError):
        raise UaraError(f"sizes: expected (devices, servers) pairs, got {sizes!r}") from None
    return [random_instance(m, e, slots=slots, seed=seed + 1000 * k + j, name=f"rl_m{m}_e{e}_s{seed + 1000 * k + j}")
            for k, (m, e) in enumerate(pairs) for j in range(int(num_instances))]


def make_env(instances: Sequence[Instance | str | os.PathLike] | None = None, *,
             sizes: Sequence[tuple[int, int]] = ((30, 8),), num_instances: int = 2, slots: int = 4, seed: int = 0,
             max_devices: int | None = None, **env_kwargs: Any) -> UARAEnv:
    """The entry point of ``uara/UARA-v0``: a padded :class:`UARAEnv` (``max_devices`` defaults to the
    largest instance's M); ``env_kwargs`` go to :class:`UARAEnv` (reward, beta_y, final_allocation...)."""
    insts = load_instances(instances, sizes=sizes, num_instances=num_instances, slots=slots, seed=seed)
    largest = max(inst.num_devices for inst in insts)
    return UARAEnv(insts, max_devices=largest if max_devices is None else max_devices, seed=seed, **env_kwargs)


def register() -> None:
    """Register ``uara/UARA-v0`` with gymnasium (once; a no-op without gymnasium)."""
    try:
        import gymnasium
    except ImportError:  # pragma: no cover - the rl extra is missing
        return
    if ENV_ID not in gymnasium.registry:
        gymnasium.register(ENV_ID, entry_point="uara.rl.gym_env:make_env", disable_env_checker=False)


def _parallel_base() -> type:
    try:
        from pettingzoo import ParallelEnv
    except ImportError:  # pragma: no cover - the rl extra is missing
        return object
    return ParallelEnv


class UARAParallelEnv(_parallel_base()):  # type: ignore[misc]
    """PettingZoo ``ParallelEnv`` over :class:`UARAEnv`: agents ``device_i``, per-agent spaces
    Box(-10, 10, (OBS_DIM,)) and Box(-1, 1, (2,)), one shared (cooperative) reward per slot.
    ``possible_agents`` cover the largest instance; an episode's ``agents`` are its M devices."""

    metadata = {"render_modes": [], "name": "uara_v0"}

    def __init__(self, instances: Sequence[Instance | str | os.PathLike] | None = None, *,
                 sizes: Sequence[tuple[int, int]] = ((30, 8),), num_instances: int = 2, slots: int = 4, seed: int = 0,
                 **env_kwargs: Any) -> None:
        insts = load_instances(instances, sizes=sizes, num_instances=num_instances, slots=slots, seed=seed)
        self._env = UARAEnv(insts, seed=seed, **env_kwargs)  # unpadded: each agent sees its own row
        self.possible_agents = [f"device_{i}" for i in range(max(i.num_devices for i in self._env.instances))]
        self.agents: list[str] = []
        import gymnasium

        self._obs_space = gymnasium.spaces.Box(-10.0, 10.0, (OBS_DIM,), np.float32)
        self._act_space = gymnasium.spaces.Box(-1.0, 1.0, (ACT_DIM,), np.float32)

    def observation_space(self, agent: str) -> Any:
        return self._obs_space

    def action_space(self, agent: str) -> Any:
        return self._act_space

    def _split(self, features: np.ndarray) -> dict[str, np.ndarray]:
        return {a: np.clip(features[i], -10.0, 10.0).astype(np.float32) for i, a in enumerate(self.agents)}

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        features, info = self._env.reset(seed=seed, options=options)
        self.agents = self.possible_agents[: info["num_devices"]]
        return self._split(features), {a: dict(info) for a in self.agents}

    def step(self, actions: dict[str, np.ndarray]):
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise UaraError(f"actions: no action for agent(s) {', '.join(missing[:3])}")
        act = np.stack([np.asarray(actions[a], dtype=float).reshape(ACT_DIM) for a in self.agents])
        features, reward, terminated, truncated, info = self._env.step(act)
        agents = list(self.agents)
        obs = self._split(features)
        if terminated or truncated:
            self.agents = []
        return (obs, {a: reward for a in agents}, {a: terminated for a in agents}, {a: truncated for a in agents},
                {a: dict(info) for a in agents})
