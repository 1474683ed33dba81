"""gymnasium and PettingZoo adapters: a registered id that passes check_env, fixed padded spaces for vector
environments over instance sizes, and the per-device agents as a PettingZoo ParallelEnv."""

from __future__ import annotations

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

import uara.rl  # noqa: E402,F401  (registers uara/UARA-v0)
from uara.errors import UaraError  # noqa: E402
from uara.rl.environment import ACT_DIM, OBS_DIM, UARAEnv  # noqa: E402
from uara.scenario.random_instance import random_instance  # noqa: E402


def test_registered_id_passes_the_checker() -> None:
    from gymnasium.utils.env_checker import check_env

    env = gymnasium.make("uara/UARA-v0", sizes=[(12, 3)], slots=3)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert obs["features"].shape == (12, OBS_DIM) and obs["mask"].sum() == 12 == info["num_devices"]
    # the module-qualified id works without importing uara.rl first
    assert gymnasium.make("uara.rl:uara/UARA-v0", sizes=[(6, 2)]).unwrapped.max_devices == 6


def test_sync_vector_env_over_two_instance_sizes_steps() -> None:
    from gymnasium.vector import SyncVectorEnv

    vec = SyncVectorEnv([lambda: gymnasium.make("uara/UARA-v0", sizes=[(10, 3)], slots=2, max_devices=24),
                         lambda: gymnasium.make("uara/UARA-v0", sizes=[(24, 4)], slots=2, max_devices=24)])
    obs, _ = vec.reset(seed=3)
    assert obs["features"].shape == (2, 24, OBS_DIM) and obs["mask"].sum(axis=1).tolist() == [10, 24]
    assert np.all(obs["features"][0, 10:] == 0)
    vec.action_space.seed(1)
    obs, reward, terminated, _, _ = vec.step(vec.action_space.sample())
    assert reward.shape == (2,) and np.all(reward < 0) and not terminated.any()
    _, _, terminated, _, _ = vec.step(vec.action_space.sample())
    assert terminated.all()  # two slots each
    vec.close()


def test_padded_rows_of_an_action_are_ignored() -> None:
    insts = [random_instance(7, 3, slots=2, seed=4)]
    plain, padded = UARAEnv(insts, seed=0), UARAEnv(insts, seed=0, max_devices=11)
    plain.reset(seed=5)
    padded.reset(seed=5)
    act = np.random.default_rng(0).uniform(-1, 1, (11, ACT_DIM))
    r1 = plain.step(act[:7])[1]
    act[7:] = 0.9  # noise in the padding
    r2 = padded.step(act)[1]
    assert r1 == r2
    with pytest.raises(UaraError, match="max_devices: must be an integer >= the largest instance's 7"):
        UARAEnv(insts, max_devices=5)


def test_pettingzoo_parallel_view_of_the_device_agents() -> None:
    pytest.importorskip("pettingzoo")
    from pettingzoo.test import parallel_api_test

    from uara.rl.gym_env import UARAParallelEnv

    env = UARAParallelEnv(sizes=[(6, 2), (9, 3)], num_instances=1, slots=2)
    parallel_api_test(env, num_cycles=6)
    obs, _ = env.reset(seed=1, options={"instance": 1})
    assert env.agents == [f"device_{i}" for i in range(9)] and obs["device_8"].shape == (OBS_DIM,)
    _, rewards, terms, _, _ = env.step({a: np.zeros(ACT_DIM) for a in env.agents})
    assert len(set(rewards.values())) == 1 and not any(terms.values())  # one team reward
