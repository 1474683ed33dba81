"""``latency-search``: latency-aware UARA by a surrogate-screened, simulator-decided local search.

Per slot (docs/latency_aware.md):

1. **Starts.** Each back-end of ``starts`` (default Max-SINR, Max-Compute, the paper's TMA and ``masac-uara``) gives an
   association; each is scored exactly by the event simulator with its own shares and the tasks' own
   draft lengths, and with each share rule of :data:`~uara.psd.server_configs.SHARE_RULES`. The best
   with its own shares is the *start*; the best overall begins the search.
2. **Rounds.** Every move of :mod:`uara.solvers.latency.search_state` (draft-length changes, relocations at every
   candidate length, a sample of swaps, share-rule flips) is ranked by the surrogate's predicted delta
   (:class:`~uara.psd.latency_surrogate.Surrogate`); the ``screen`` best are scored exactly in one event
   simulation; the improving ones on disjoint servers are applied, best first. When no scored move
   improves, the next ``screen`` of the ranking are tried, up to ``patience`` batches. The surrogate is
   refitted after every batch to every configuration simulated so far, and checked on each new batch
   before it is refitted (``info["surrogate"]``). With at most ``exhaustive_below`` moves in a round,
   all of them are simulated (no screening).
3. **Restarts.** While the slot's time lasts (at most ``restarts`` times), a few random devices of the best
   state move to random usable servers at random lengths and step 2 runs again (iterated local search).
4. **Result.** The final state's exact cost is compared with the start's: the better is returned, so the
   search is never worse than its start. Every decision is a sum of simulated server costs, and the
   slot's simulated latency equals it (the split by server is exact: :mod:`uara.psd.server_configs`).

The deadline is the driver's slot deadline or ``slot_time_s`` when the run has no time limit; an
exact batch is not started when the longest one so far would not end before it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from uara.errors import SolverError
from uara.model.formulation import SlotData
from uara.model.solution import SlotDecision, Status
from uara.psd.server_configs import SHARE_RULES, Config, decision_configs, slot_tasks
from uara.solvers.base import SolveContext, Solver
from uara.solvers.latency.search_state import (ExactCosts, Move, SlotState, exchange_moves, length_moves, relocation_moves,
                                        rule_moves, swap_moves)


def parse_lengths(text: str) -> tuple[int, ...]:
    """``"1-8"`` or ``"1,2,4"`` (or a mix) -> sorted distinct draft lengths in 1..64; one line otherwise."""
    out: set[int] = set()
    for part in str(text).split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            a, b = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise SolverError(f"option 'draft_lengths': expected e.g. '1-8' or '2,4,6', got {text!r}") from None
        if not 1 <= a <= b <= 64:
            raise SolverError(f"option 'draft_lengths': lengths must lie in 1..64, got {part.strip()!r}")
        out.update(range(a, b + 1))
    return tuple(sorted(out))


@dataclass
class LatencySearchOptions:
    """draft_lengths: the candidate set ("1-8"); starts: comma-separated back-ends whose association starts the
    search; energy_weight: w in s/J on P1's device energy (0: latency only); slot_time_s: per-slot budget without
    a run time limit; screen: moves simulated per batch; patience: batches without improvement before stopping;
    swaps: swap moves sampled per round; exhaustive_below: simulate every move of a round with at most this many;
    restarts: perturbation restarts (iterated local search) while the slot's time is not spent; max_calls: stop a slot
    after this many event simulations (0: no cap), a budget that, unlike time, gives the same result on any machine."""

    draft_lengths: str = "1-8"
    starts: str = "max-sinr,max-compute,tma,masac-uara"
    energy_weight: float = 0.0
    slot_time_s: float = 5.0
    screen: int = 48
    patience: int = 2
    swaps: int = 400
    exhaustive_below: int = 300
    restarts: int = 8
    max_calls: int = 0


class LatencySearchSolver(Solver):
    name = "latency-search"
    description = ("latency-aware UARA: association, draft length per device and share rule by a surrogate-screened "
                   "local search, every decision scored by the PSD event simulator (uara's method)")
    STOCHASTIC = True
    Options: ClassVar[type] = LatencySearchOptions

    def check_options(self) -> None:
        o = self.options
        self.lengths = parse_lengths(o.draft_lengths)
        self.starts = tuple(s.strip() for s in o.starts.split(",") if s.strip())
        if not self.starts:
            raise SolverError("option 'starts': give at least one back-end, e.g. 'max-sinr'")
        from uara.solvers import get_solver_class, problem_of

        for name in self.starts:
            get_solver_class(name)
            if name == self.name or problem_of(name) != "p1":
                raise SolverError(f"option 'starts': {name!r} is not a P1 back-end")
        for key in ("energy_weight", "slot_time_s"):
            if getattr(o, key) < 0:
                raise SolverError(f"option '{key}': expected >= 0, got {getattr(o, key)}")
        for key in ("screen", "patience", "swaps", "exhaustive_below", "restarts", "max_calls"):
            if getattr(o, key) < (1 if key in ("screen", "patience") else 0):
                raise SolverError(f"option '{key}': expected a positive integer, got {getattr(o, key)}")

    def solve_slot(self, sd: SlotData, ctx: SolveContext) -> SlotDecision:
        from uara.psd.latency_surrogate import Surrogate

        t0 = time.perf_counter()
        deadline = ctx.deadline if ctx.deadline is not None else t0 + self.options.slot_time_s
        st = slot_tasks(ctx.instance, ctx.slot, max_draft_length=max(self.lengths))
        exact = ExactCosts(st, sd, self.options.energy_weight)
        surrogate = Surrogate(st, sorted(set(self.lengths) | set(st.own_draft_length.tolist())))
        start, states, start_name = self._starts(sd, ctx, st, exact, surrogate)
        surrogate.fit()
        checks: list[dict[str, float]] = []
        best = start
        for k, state in enumerate(states):  # the best rule-based start first, the others while time is left
            if k and time.perf_counter() + exact.longest_call_s >= deadline:
                break
            checks += self._search(state, sd, ctx, exact, surrogate, deadline)
            if state.total < best.total:
                best = state
        best = self._perturb(best, sd, ctx, exact, surrogate, deadline, checks)
        return self._decision(best, start, start_name, exact, surrogate, checks, time.perf_counter() - t0)

    def _starts(self, sd: SlotData, ctx: SolveContext, st: Any, exact: ExactCosts, surrogate: Any
                ) -> tuple[SlotState, list[SlotState], str]:
        """(the best start with its own shares, the rule-based start states with distinct associations best
        first, the best start's back-end)."""
        from uara.solvers import get_solver

        e = sd.num_servers
        cands: list[tuple[str, np.ndarray, np.ndarray | None, list[Config], list[int]]] = []
        for name in self.starts:
            dec = get_solver(name).solve_slot(sd, ctx)
            x = np.asarray(dec.association, dtype=np.int64)
            g = st.own_draft_length.copy()
            own = decision_configs(x, g, dec.bandwidth_share, dec.compute_share, e)
            cands.append((name, x, None, own, [-1] * e))
            for r in range(len(SHARE_RULES)):
                probe = SlotState(st, x.copy(), g.copy(), np.full(e, r), np.zeros(e))
                cands.append((name, x, np.full(e, r), [probe.current(j) for j in range(e)], [r] * e))
        costs = exact.costs([c for cand in cands for c in cand[3]], [r for cand in cands for r in cand[4]], surrogate)
        totals = costs.reshape(len(cands), e)
        own_rows = [k for k, c in enumerate(cands) if c[2] is None]
        k_own = min(own_rows, key=lambda k: totals[k].sum())
        name, x, _, cfgs, _ = cands[k_own]
        start = SlotState(st, x.copy(), st.own_draft_length.copy(), np.full(e, -1), totals[k_own].copy(), cfgs)
        states, seen = [], set()
        for k in sorted((k for k, c in enumerate(cands) if c[2] is not None), key=lambda k: totals[k].sum()):
            key = tuple(cands[k][1].tolist())
            if key not in seen:
                seen.add(key)
                states.append(SlotState(st, cands[k][1].copy(), st.own_draft_length.copy(), cands[k][2].copy(),
                                        totals[k].copy()))
        return start, states, name

    def _perturb(self, best: SlotState, sd: SlotData, ctx: SolveContext, exact: ExactCosts, surrogate: Any,
                 deadline: float, checks: list[dict[str, float]]) -> SlotState:
        """Iterated local search while time is left (at most ``restarts`` times): relocate a few random devices of
        the best state to random usable servers at random candidate lengths, search again, keep the better."""
        st, rng = best.st, ctx.rng
        if best.rule.min() < 0:  # the start with its back-end's own shares won: its shares follow no rule, so no
            return best          # move or perturbation applies to it
        for _ in range(self.options.restarts):
            if time.perf_counter() + 2 * exact.longest_call_s >= deadline or self._spent(exact):
                break
            trial = SlotState(st, best.x.copy(), best.g.copy(), best.rule.copy(), best.cost.copy())
            pick = rng.choice(trial.x.size, min(trial.x.size, int(rng.integers(2, 5))), replace=False)
            for i in pick:
                trial.x[i] = rng.choice(np.flatnonzero(st.usable[i]))
                trial.g[i] = rng.choice(self.lengths)
            now = [trial.current(j) for j in range(trial.cost.size)]
            trial.cost = exact.costs(now, list(trial.rule), surrogate)
            checks += self._search(trial, sd, ctx, exact, surrogate, deadline)
            if trial.total < best.total - 1e-12 * abs(best.total):
                best = trial
        return best

    def _spent(self, exact: ExactCosts) -> bool:
        return bool(self.options.max_calls) and exact.calls >= self.options.max_calls

    def _moves(self, state: SlotState, ctx: SolveContext) -> list[Move]:
        usable = state.st.usable
        return (length_moves(state, self.lengths) + relocation_moves(state, self.lengths, usable)
                + swap_moves(state, usable, ctx.rng, self.options.swaps) + rule_moves(state)
                + exchange_moves(state, usable))

    def _search(self, state: SlotState, sd: SlotData, ctx: SolveContext, exact: ExactCosts, surrogate: Any,
                deadline: float) -> list[dict[str, float]]:
        """Rounds of step 2 until no batch improves ``patience`` times in a row or the deadline; the surrogate's
        out-of-sample checks, one per batch."""
        checks: list[dict[str, float]] = []
        while time.perf_counter() + exact.longest_call_s < deadline and not self._spent(exact):
            moves = self._moves(state, ctx)
            if not moves:
                break
            order = self._rank(state, moves, surrogate)
            improved = False
            size = len(order) if len(order) <= self.options.exhaustive_below else self.options.screen
            for b in range(self.options.patience):
                batch = [moves[k] for k in order[b * size:(b + 1) * size]]
                if not batch or time.perf_counter() + exact.longest_call_s >= deadline or self._spent(exact):
                    break
                flat = [c for mv in batch for c in mv.configs]
                new = exact.costs(flat, [r for mv in batch for r in mv.rules], surrogate)
                if len(order) > size:  # out of sample: the surrogate was fitted before this batch
                    checks.append(surrogate.check(flat, new - self._energy(sd, flat)))
                surrogate.fit()
                if self._apply_best(state, batch, new):
                    improved = True
                    break
                if size == len(order):
                    break
            ctx.record(state.total)
            if not improved:
                break
        return checks

    def _energy(self, sd: SlotData, configs: list[Config]) -> np.ndarray:
        """(K,) w sum_i E_i of each configuration (0 when the energy weight is 0)."""
        from uara.psd.server_configs import device_energy_j

        w = self.options.energy_weight
        if not w:
            return np.zeros(len(configs))
        return np.array([w * float(device_energy_j(sd, c.devices, c.server, c.bandwidth_share).sum()) for c in configs])

    def _rank(self, state: SlotState, moves: list[Move], surrogate: Any) -> np.ndarray:
        """Move indices by predicted delta (surrogate latency plus the exact energy term), best first."""
        sd = state.st.sd
        now = [state.current(j) for j in range(state.cost.size)]
        cur = surrogate.predict(now) + self._energy(sd, now)
        flat = [c for mv in moves for c in mv.configs]
        pred = surrogate.predict(flat) + self._energy(sd, flat)
        owner = np.concatenate([np.full(len(mv.configs), k) for k, mv in enumerate(moves)])
        servers = np.array([c.server for c in flat])
        delta = np.bincount(owner, weights=pred - cur[servers], minlength=len(moves))
        return np.argsort(np.where(np.isfinite(delta), delta, np.inf), kind="stable")

    @staticmethod
    def _apply_best(state: SlotState, batch: list[Move], new: np.ndarray) -> bool:
        """Apply the improving moves of ``batch`` (exact costs ``new``, flattened) on disjoint servers, best first."""
        bounds = np.cumsum([0] + [len(mv.configs) for mv in batch])
        deltas = np.array([new[bounds[k]:bounds[k + 1]].sum() - state.cost[list(mv.servers)].sum()
                           for k, mv in enumerate(batch)])
        tol = 1e-9 * max(state.total, 1.0)
        used: set[int] = set()
        applied = False
        for k in np.argsort(np.where(np.isfinite(deltas), deltas, np.inf)):
            if not deltas[k] < -tol:
                break
            if used.isdisjoint(batch[k].servers):
                state.apply(batch[k], new[bounds[k]:bounds[k + 1]])
                used.update(batch[k].servers)
                applied = True
        return applied

    def _decision(self, best: SlotState, start: SlotState, start_name: str, exact: ExactCosts, surrogate: Any,
                  checks: list[dict[str, float]], wall_s: float) -> SlotDecision:
        m, e = best.x.size, best.cost.size
        y, z = np.zeros(m), np.zeros(m)
        for c in (best.current(j) for j in range(e)):
            y[c.devices], z[c.devices] = c.bandwidth_share, c.compute_share
        info = {"objective_s": best.total / m, "start": start_name, "start_objective_s": start.total / m,
                "kept_start": best is start, "energy_weight_s_per_j": self.options.energy_weight,
                "draft_lengths": list(self.lengths),
                "share_rule": ["own" if r < 0 else SHARE_RULES[r] for r in best.rule],
                "simulated_configs": exact.configs, "simulator_calls": exact.calls,
                "simulator_s": exact.seconds, "surrogate_coef": surrogate.coef.tolist(),
                "surrogate": _summary(checks), "search_s": wall_s}
        return SlotDecision(best.x.copy(), y, z, None, info, Status.FEASIBLE, best.g.copy())


def _summary(checks: list[dict[str, float]]) -> dict[str, Any]:
    done = [c for c in checks if c.get("median_rel_error") is not None]
    if not done:
        return {"batches_checked": 0}
    return {"batches_checked": len(done),
            "median_rel_error": float(np.nanmedian([c["median_rel_error"] for c in done])),
            "rank_correlation": float(np.nanmedian([c.get("rank_correlation", np.nan) for c in done]))}
