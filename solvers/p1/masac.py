"""TMA-MASAC (paper Section IV): a trained MASAC policy sets the shares, TMA fixes the association.

For each slot: per-device features (:func:`uara.rl.environment.device_features`) ->
the actor's deterministic action tanh(mean) (M, 2) -> :func:`uara.rl.environment.decide`
(bandwidth shares from the corrected KKT rule with the per-server budget,
compute shares normalised over each server's devices, TMA phase 1 + improving
moves). The decisions are feasible by construction and re-scored by the
evaluator like every other back-end. The shipped policy
(``uara/rl/policies/masac.pt``) is loaded by default; ``--policy PATH`` for another.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from uara.errors import SolverError
from uara.model.formulation import SlotData
from uara.solvers.base import SlotDecision, SolveContext, Solver



def default_policy_path() -> Path:
    """``uara/rl/policies/masac.pt`` of the installed package (works for editable and wheel installs)."""
    import uara

    return Path(uara.__file__).resolve().parent / "rl" / "policies" / "masac.pt"


@dataclass
class MASACOptions:
    """policy: checkpoint path (default: the shipped uara/rl/policies/masac.pt);
    zero_action: ignore the policy and use the zero correction (the exact-allocation prior; an ablation);
    max_moves: cap on TMA phase-2 moves (None = 2 M + 10);
    final_allocation: 'exact' (default: once TMA has fixed the association under the policy's shares,
    the allocation is re-solved exactly, so the policy only steers the association) or 'policy'
    (the paper's semantics: the policy's Y, Z are the returned shares). See docs/masac.md for the
    measurements behind the default."""

    policy: str | None = None
    zero_action: bool = False
    max_moves: int | None = None
    final_allocation: str = "exact"


class MASACSolver(Solver):
    name = "masac"
    description = "TMA-MASAC: trained multi-agent SAC policy sets (Y, Z), TMA fixes the association (paper Sec. IV)"
    requires = ("torch",)
    extra = "rl"
    Options: ClassVar[type] = MASACOptions

    def check_options(self) -> None:
        if self.options.max_moves is not None and self.options.max_moves < 0:
            raise SolverError(f"solver 'masac': max_moves must be >= 0, got {self.options.max_moves}")
        from uara.rl.environment import check_final_allocation

        check_final_allocation(self.options.final_allocation, "solver 'masac': option final_allocation")
        self._policy = None

    @property
    def display_name(self) -> str:
        base = "masac(zero-action)" if self.options.zero_action else "masac"
        return base if self.options.final_allocation == "exact" else f"{base}[policy-alloc]"

    def policy(self):
        """The loaded :class:`uara.rl.policy.Policy` (loaded once per solver object)."""
        if self._policy is None:
            from uara.rl.policy import load_policy

            path = Path(self.options.policy) if self.options.policy else default_policy_path()
            if not path.is_file():
                raise SolverError(f"solver 'masac': no policy checkpoint at {path} (train one with `uara train masac`)")
            self._policy = load_policy(path)
        return self._policy

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        from uara.rl.environment import ACT_DIM, BETA_Y, BETA_Z, decide, device_features

        if self.options.zero_action:
            action = np.zeros((sd.num_devices, ACT_DIM))
            beta_y, beta_z = BETA_Y, BETA_Z
        else:
            import torch

            pol = self.policy()
            threads = torch.get_num_threads()
            torch.set_num_threads(max(1, ctx.threads))
            try:
                action = pol.act(device_features(sd))
            finally:
                torch.set_num_threads(threads)
            beta_y, beta_z = pol.beta_y, pol.beta_z
        dec = decide(sd, action, beta_y=beta_y, beta_z=beta_z, max_moves=self.options.max_moves,
                     final_allocation=self.options.final_allocation)
        dec.info.pop("band_price", None)  # the policy's internal band prices are not part of the record
        return dec
