"""The learning wing: TMA-MASAC's environment, policy and trainer.

- :mod:`uara.rl.environment` -- the multi-agent environment over P1 (gymnasium API) and the policy's features.
- :mod:`uara.rl.trainer` -- the SAC trainer (CleanRL style: one dataclass of arguments) and ``load_policy``.

The back-end that runs a trained policy is :mod:`uara.solvers.masac`.
"""
