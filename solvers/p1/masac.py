"""TMA-MASAC (paper Section IV) and uara's variant of it.

Both map per-device features (:func:`uara.rl.environment.device_features`, and for a policy trained on the
``lookahead`` set also :func:`lookahead_features`: :func:`policy_observation`) through the trained actor's
deterministic action tanh(mean) (M, 2) to shares: band shares from the KKT rule with action-corrected
energy prices, compute shares from action-weighted weights (:func:`uara.rl.environment.policy_shares`).
They differ in what happens next:

- ``masac`` (**the paper's semantics**): the policy's Y, Z on the Max-SINR association (TMA phase 1),
  then TMA's phase 2 (Alg. 1): best-improving *pairwise swaps* of seats, each device taking the other's
  server and shares, while I improves (:func:`uara.solvers.core.moves.swap_search`); the returned shares
  are the policy's.
- ``masac-uara`` (**uara's variant**, the back-end named ``masac`` before issue 24): TMA phase 1, then
  best-improving *single-device moves* under the policy's shares, then the allocation re-solved exactly
  on that association (``final_allocation="exact"``: the policy only steers the association;
  :func:`uara.rl.environment.decide`).

The decisions are feasible by construction and re-scored by the evaluator like every other back-end.
Each back-end loads its own shipped policy by default, trained under its own semantics:
``uara/rl/policies/masac.pt`` for ``masac`` and ``masac_uara.pt`` for ``masac-uara``
(results/masac/README.md says how each was trained); ``-o policy=PATH`` loads another.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator

import numpy as np

from uara.errors import SolverError
from uara.model.formulation import SlotData
from uara.solvers.base import SlotDecision, SolveContext, Solver



def default_policy_path(file: str = "masac.pt") -> Path:
    """``uara/rl/policies/<file>`` of the installed package (works for editable and wheel installs); the
    default is ``masac``'s policy."""
    import uara

    return Path(uara.__file__).resolve().parent / "rl" / "policies" / file


def default_uara_policy_path() -> Path:
    """``masac-uara``'s shipped policy, ``uara/rl/policies/masac_uara.pt``."""
    return default_policy_path(MASACSolver.POLICY_FILE)


@dataclass
class MASACOptions:
    """policy: checkpoint path (default: the shipped uara/rl/policies/masac_uara.pt);
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


@dataclass
class PaperMASACOptions:
    """policy: checkpoint path (default: the shipped uara/rl/policies/masac.pt); zero_action: the KKT prior's shares
    (no learned correction); max_swaps: cap on TMA phase-2 swaps (None: until no swap improves)."""

    policy: str | None = None
    zero_action: bool = False
    max_swaps: int | None = None


def checkpoint_once(solver: Solver, loader: Callable[[Path], Any], default: Path, what: str, train: str) -> Any:
    """``solver._policy``, loaded from ``solver.options.policy`` (else ``default``) by ``loader`` on first use;
    a one-line error naming the path and the command ``train`` when there is no file."""
    if solver._policy is None:
        path = Path(solver.options.policy) if solver.options.policy else default
        if not path.is_file():
            raise SolverError(f"solver '{solver.name}': no {what} checkpoint at {path} (train one with `{train}`)")
        solver._policy = loader(path)
    return solver._policy


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to max(1, ``n``) (the run's thread budget) for the block, restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _PolicyMixin:
    """Loads the checkpoint once per solver object and maps a slot to the actor's action."""

    requires = ("torch",)
    extra = "rl"
    #: the shipped policy this back-end loads without ``policy`` (uara/rl/policies/<file>)
    POLICY_FILE: ClassVar[str] = "masac.pt"

    def policy(self):
        """The loaded :class:`uara.rl.policy.Policy` (loaded once per solver object)."""
        from uara.rl.policy import load_policy

        return checkpoint_once(self, load_policy, default_policy_path(self.POLICY_FILE), "policy", "uara train masac")

    def action(self, sd: SlotData, ctx: SolveContext) -> tuple[np.ndarray, float, float]:
        """(action (M, 2), beta_y, beta_z): the actor's deterministic action, or zeros with ``zero_action``."""
        from uara.rl.environment import ACT_DIM, BETA_Y, BETA_Z

        if self.options.zero_action:
            return np.zeros((sd.num_devices, ACT_DIM)), BETA_Y, BETA_Z
        pol = self.policy()
        with torch_threads(ctx.threads):
            return pol.act(policy_observation(sd, pol.feature_set)), pol.beta_y, pol.beta_z


def policy_observation(sd: SlotData, feature_set: str = "base") -> np.ndarray:
    """The per-device observation (M, n) of a policy trained on ``feature_set`` (a key of
    :data:`uara.rl.environment.FEATURE_SETS`): :func:`uara.rl.environment.device_features`, then for
    ``lookahead`` the columns of :func:`lookahead_features`."""
    from uara.rl.environment import FEATURE_SETS, device_features

    if feature_set not in FEATURE_SETS:
        raise SolverError(f"feature set must be one of {', '.join(FEATURE_SETS)}, got {feature_set!r}")
    obs = device_features(sd)
    return obs if feature_set == "base" else np.concatenate([obs, lookahead_features(sd).astype(np.float32)], axis=1)


def lookahead_features(sd: SlotData) -> np.ndarray:
    """(M, 3) look-ahead of the paper's pipeline at the zero action (:data:`uara.rl.environment.LOOKAHEAD_FEATURES`).

    Run :func:`paper_decision` at A = 0 (KKT shares y0, z0 on the Max-SINR association, then Alg. 1's swaps of
    seats with their shares) and let o(i) be the device that ends in device i's starting seat and (y*, z*) the
    exact allocation of the association it ends with. Device i's action sets that seat's shares, so it sees
    log10(y*_o(i) / y0_i), log10(z*_o(i) / z0_i) (clipped to [-3, 3]: the shares the seat's final occupant
    would need, relative to what the seat holds) and whether o(i) != i. At the zero action the returned
    shares are the seat's, so a policy that reads these can correct them for the occupant."""
    from uara.model.allocation import exact_allocation

    m = sd.num_devices
    seats = np.empty(m, dtype=np.intp)
    dec = paper_decision(sd, np.zeros((m, 2)), seats=seats)
    occupant = np.empty(m, dtype=np.intp)
    occupant[seats] = np.arange(m)  # occupant[s]: the device that holds seat s at the end
    y0, z0 = dec.bandwidth_share[occupant], dec.compute_share[occupant]  # each seat's shares (they move with it)
    ex = exact_allocation(sd, dec.association)
    lg = lambda x: np.log10(np.maximum(x, 1e-12))  # noqa: E731
    return np.clip(np.stack([lg(ex.bandwidth_share[occupant]) - lg(y0), lg(ex.compute_share[occupant]) - lg(z0),
                             (occupant != np.arange(m)).astype(float)], axis=1), -3.0, 3.0)


class PaperMASACSolver(_PolicyMixin, Solver):
    name = "masac"
    VERSION = 4  # 4: the shipped policy is the ES one on the look-ahead observation; 1 was uara's variant, now ``masac-uara``; 3: the shipped policy is the ES one (2 loaded the SAC policy)
    CORE = ("moves",)
    description = ("TMA-MASAC as the paper runs it (Sec. IV): the trained policy sets Y, Z; TMA (Alg. 1) fixes the "
                   "association by pairwise swaps")
    Options: ClassVar[type] = PaperMASACOptions

    def check_options(self) -> None:
        if self.options.max_swaps is not None and self.options.max_swaps < 0:
            raise SolverError(f"solver 'masac': max_swaps must be >= 0, got {self.options.max_swaps}")
        self._policy = None

    @property
    def display_name(self) -> str:
        return "masac(zero-action)" if self.options.zero_action else "masac"

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        action, beta_y, beta_z = self.action(sd, ctx)
        return paper_decision(sd, action, ctx, beta_y=beta_y, beta_z=beta_z, max_swaps=self.options.max_swaps)


def paper_decision(sd: SlotData, action: np.ndarray, ctx: SolveContext | None = None, *, beta_y: float | None = None,
                   beta_z: float | None = None, max_swaps: int | None = None,
                   seats: np.ndarray | None = None) -> SlotDecision:
    """The paper's semantics of an action (M, 2): the policy's Y, Z (:func:`uara.rl.environment.policy_shares`)
    on the Max-SINR association, then TMA's pairwise swaps of seats with their shares (Alg. 1); the policy's
    shares are returned. ``ctx`` only bounds the swaps by its deadline; ``seats`` (M,) receives which starting
    seat each device ends in (:func:`uara.solvers.core.moves.swap_search`)."""
    from uara.model.solution import Status
    from uara.rl.environment import BETA_Y, BETA_Z, policy_shares
    from uara.solvers.core.moves import masked_argmax, swap_search

    start = masked_argmax(sd.snr, sd.usable)
    y, z = policy_shares(sd, action, start, beta_y=BETA_Y if beta_y is None else beta_y,
                         beta_z=BETA_Z if beta_z is None else beta_z)
    assoc, y, z, swaps, stopped = swap_search(sd, start, "uniform", ctx, max_swaps=max_swaps, shares=(y, z),
                                              seats=seats)
    status = Status.TIME_LIMIT if stopped and ctx is not None and ctx.out_of_time() else Status.FEASIBLE
    return SlotDecision(assoc, y, z, status=status, info={"swaps": swaps})


class MASACSolver(_PolicyMixin, Solver):
    name = "masac-uara"
    POLICY_FILE: ClassVar[str] = "masac_uara.pt"
    description = ("uara's variant of TMA-MASAC: the policy's shares steer single-device moves from Max-SINR, then the "
                   "allocation is re-solved exactly (not the paper's semantics: see masac)")
    Options: ClassVar[type] = MASACOptions

    def check_options(self) -> None:
        if self.options.max_moves is not None and self.options.max_moves < 0:
            raise SolverError(f"solver 'masac': max_moves must be >= 0, got {self.options.max_moves}")
        from uara.rl.environment import check_final_allocation

        check_final_allocation(self.options.final_allocation, "solver 'masac': option final_allocation")
        self._policy = None

    @property
    def display_name(self) -> str:
        base = "masac-uara(zero-action)" if self.options.zero_action else "masac-uara"
        return base if self.options.final_allocation == "exact" else f"{base}[policy-alloc]"

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        from uara.rl.environment import decide

        action, beta_y, beta_z = self.action(sd, ctx)
        dec = decide(sd, action, beta_y=beta_y, beta_z=beta_z, max_moves=self.options.max_moves,
                     final_allocation=self.options.final_allocation)
        dec.info.pop("band_price", None)  # the policy's internal band prices are not part of the record
        return dec


#: Values of PrefOptions.search.
SEARCH_SCOPES = ("auto", "candidates", "all")


def search_tables_are_small(sd: SlotData, assoc: np.ndarray) -> bool:
    """relax's rule (:func:`uara.solvers.p1.relax.search_candidates` with candidates = 0): the search may
    consider every usable server when its swap tables hold at most FULL_SEARCH_ENTRIES entries."""
    from uara.solvers.p1.relax import search_candidates

    return search_candidates(sd, assoc, 0) is None


def default_preference_path() -> Path:
    """``uara/rl/policies/pref.pt`` of the installed package."""
    return default_policy_path("pref.pt")


@dataclass
class PrefOptions:
    """policy: checkpoint path (default: the shipped uara/rl/policies/pref.pt);
    zero_action: ignore the network and prefer by SNR (Max-SINR start, candidates by SNR: the ablation);
    candidates: each device's most preferred servers, where the insertion may place it (4, as relax's
    CANDIDATES_AT_SCALE: at 1000x50 a 0.75 s search ends 1.2 % above relax's 10 s incumbent from 4, 1.6 % from 3);
    search: where the move/swap search may move a device: 'auto' (default: every usable server while the
    search's tables are small, relax's rule FULL_SEARCH_ENTRIES, else the candidates), 'candidates' or 'all';
    swaps: also pairwise swaps once no move improves (the search's second stage);
    max_steps: cap on the search's moves and swaps (None: until none improves or the deadline)."""

    policy: str | None = None
    zero_action: bool = False
    candidates: int = 4
    search: str = "auto"
    swaps: bool = True
    max_steps: int | None = None


class PrefSolver(Solver):
    name = "learned-pref"
    VERSION = 3  # 3: four candidate servers per device (2: three); 1 searched within the candidate lists only (search='candidates')
    CORE = ("local_search", "insertion")
    description = ("uara's extended learned action (not the paper's method): learned per-pair server preferences "
                   "(imitation of relax) set each device's candidate servers; priced insertion within them, then the exact "
                   "move/swap search")
    Options: ClassVar[type] = PrefOptions
    requires = ("torch",)
    extra = "rl"

    def check_options(self) -> None:
        if self.options.candidates < 1:
            raise SolverError(f"solver 'learned-pref': option candidates must be >= 1, got {self.options.candidates}")
        if self.options.search not in SEARCH_SCOPES:
            raise SolverError(f"solver 'learned-pref': option search must be one of {', '.join(SEARCH_SCOPES)}, "
                              f"got {self.options.search!r}")
        if self.options.max_steps is not None and self.options.max_steps < 0:
            raise SolverError(f"solver 'learned-pref': option max_steps must be >= 0, got {self.options.max_steps}")
        self._policy = None

    @property
    def display_name(self) -> str:
        return "learned-pref(zero-action)" if self.options.zero_action else "learned-pref"

    def preferences(self, sd: SlotData, ctx: SolveContext) -> np.ndarray:
        """r (M, E): the network's preferences, or log SNR with ``zero_action``; -inf where unusable."""
        from uara.rl.pair_features import zero_preferences

        if self.options.zero_action:
            return zero_preferences(sd)
        from uara.rl.preference import load_preference_policy

        policy = checkpoint_once(self, load_preference_policy, default_preference_path(), "preference", "uara train pref")
        with torch_threads(ctx.threads):
            return policy.preferences(sd)

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        return preference_decision(sd, self.preferences(sd, ctx), ctx, candidates=self.options.candidates,
                                   search=self.options.search,
                                   swaps=self.options.swaps, max_steps=self.options.max_steps)


def preference_decision(sd: SlotData, prefs: np.ndarray, ctx: SolveContext | None = None, *, candidates: int = 4,
                        swaps: bool = True, max_steps: int | None = None, search: str = "auto") -> SlotDecision:
    """What the extended action means: each device's ``candidates`` most preferred usable servers K_i; priced
    insertion within them (:func:`uara.solvers.core.insertion.priced_insertion`); the exact move search, then
    swaps (:func:`uara.solvers.core.local_search.local_search`) within the same lists, or over every usable
    server (``search``: 'all', or 'auto' while the tables are small); the exact allocation on the result.
    ``ctx`` only bounds the search by its deadline."""
    from uara.model.allocation import exact_allocation
    from uara.model.solution import Status
    from uara.solvers.core.insertion import priced_insertion
    from uara.solvers.core.local_search import candidate_mask, local_search

    usable = sd.usable & np.isfinite(sd.uplink_s_full) & np.isfinite(prefs)
    if not usable.any(axis=1).all():
        raise SolverError("solver 'learned-pref': a device has no usable server")
    mask = candidate_mask(-np.where(usable, prefs, -np.inf), usable, candidates)
    start = priced_insertion(sd, mask)
    everywhere = search == "all" or (search == "auto" and search_tables_are_small(sd, start))
    ls = local_search(sd, start, deadline=None if ctx is None else ctx.deadline, max_steps=max_steps, swaps=swaps,
                      candidates=None if everywhere else mask, moves_first=swaps)
    alloc = exact_allocation(sd, ls.association)
    status = Status.TIME_LIMIT if ls.stopped_early and ctx is not None and ctx.out_of_time() else Status.FEASIBLE
    info = {"moves": ls.moves, "swaps": ls.swaps, "kept_from_insertion": float(np.mean(start == ls.association)),
            "searched_everywhere": everywhere}
    return SlotDecision(ls.association, alloc.bandwidth_share, alloc.compute_share, status=status, info=info)
