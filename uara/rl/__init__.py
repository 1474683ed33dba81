"""The learning wing: TMA-MASAC's environment, policy, hyperparameters and trainer.

- :mod:`uara.rl.environment` -- the multi-agent environment over P1 (gymnasium API), the policy's
  features and :func:`~uara.rl.environment.decide` (action -> a slot's decisions).
- :mod:`uara.rl.policy` -- the actor network and its checkpoint, as the solver loads it (torch).
- :mod:`uara.rl.train_args` -- :class:`~uara.rl.train_args.MASACArgs`, every hyperparameter in one place
  (no torch needed; ``uara train``'s flags are generated from it).
- :mod:`uara.rl.trainer` -- the SAC training loop (CleanRL style).

- :mod:`uara.rl.gym_env` -- ``gymnasium.make("uara/UARA-v0")`` (registered on import of this package,
  padded fixed-size spaces for vector environments) and the PettingZoo ``ParallelEnv`` view, one agent
  per device.

The back-end that runs a trained policy is :mod:`uara.solvers.p1.masac`.
"""

from uara.rl.gym_env import register as _register

_register()
