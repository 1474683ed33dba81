"""The MASAC environment honours gymnasium's contract (its own checker) and refuses bad use."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from uara.errors import UaraError
from uara.rl.environment import ACT_DIM, UARAEnv
from uara.scenario.random_instance import random_instance

gym = pytest.importorskip("gymnasium")


def _env() -> UARAEnv:
    return UARAEnv([random_instance(8, 3, slots=3, seed=1), random_instance(5, 2, slots=2, seed=2)], seed=0)


def test_gymnasiums_env_checker_passes_without_warnings():
    from gymnasium.utils.env_checker import check_env

    env = _env()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a checker warning fails the test
        check_env(env, skip_render_check=True)


def test_spaces_exist_before_reset_and_follow_the_episode():
    env = _env()
    assert env.observation_space.shape[0] == 8
    obs, info = env.reset(seed=3, options={"instance": 1})
    assert env.observation_space.contains(obs) and env.action_space.shape == (5, ACT_DIM)


def test_nan_actions_and_steps_after_the_end_are_refused():
    env = _env()
    env.reset(seed=0, options={"instance": 1})
    bad = np.zeros((5, ACT_DIM))
    bad[2, 1] = np.nan
    with pytest.raises(UaraError, match="action: contains NaN"):
        env.step(bad)
    with pytest.raises(UaraError, match=r"action: expected shape \(5, 2\)"):
        env.step(np.zeros((4, ACT_DIM)))
    for _ in range(2):
        *_, terminated, truncated, _ = env.step(np.zeros((5, ACT_DIM)))
    assert terminated
    with pytest.raises(UaraError, match="episode is over"):
        env.step(np.zeros((5, ACT_DIM)))
    obs, _ = env.reset(seed=0, options={"instance": 1})
    assert np.all(np.isfinite(obs))
