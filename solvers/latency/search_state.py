"""The state of latency-aware UARA's search in one slot, and the moves it tries.

State: association x (M,), draft length g (M,), share rule per server (an index into
:data:`~uara.psd.server_configs.SHARE_RULES`), and the exact cost C_j of every server's configuration,

    C_j = sum_{i : x_i = j} [ L_i + w E_i ]        (s; L_i from the event simulator, E_i P1's device energy in J,
                                                    w the energy weight in s/J),

so that the slot's objective sum_i (L_i + w E_i) = sum_j C_j (docs/latency_aware.md). A move changes
one or two servers' configurations: a device's draft length, a device to another server (at any
candidate length), two devices on different servers swapped, a server's share rule flipped, two servers
trading their device sets. Its
delta is the new configurations' cost minus the old ones'.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from uara.psd.server_configs import SHARE_RULES, Config, SlotTasks, device_energy_j, rule_shares, score_configs


@dataclass(frozen=True)
class Move:
    """New configurations of the servers a move touches (with their share rule indices)."""

    configs: tuple[Config, ...]
    rules: tuple[int, ...]
    kind: str

    @property
    def servers(self) -> tuple[int, ...]:
        return tuple(c.server for c in self.configs)


def config_key(c: Config, rule: int) -> tuple:
    return (c.server, rule, tuple(c.devices.tolist()), tuple(c.draft_length.tolist()))


@dataclass
class ExactCosts:
    """C_j of configurations, simulated on demand and cached by (server, rule, devices, lengths)."""

    st: SlotTasks
    sd: Any
    energy_weight: float
    cache: dict[tuple, float] = field(default_factory=dict)
    calls: int = 0
    configs: int = 0
    seconds: float = 0.0
    longest_call_s: float = 0.0

    def costs(self, configs: Sequence[Config], rules: Sequence[int], surrogate: Any = None) -> np.ndarray:
        """(K,) exact costs; the configurations not yet cached are scored in one event simulation (and, with a
        ``surrogate``, remembered for its next fit)."""
        keys = [config_key(c, r) for c, r in zip(configs, rules)]
        todo: dict[tuple, Config] = {}
        for k, c in zip(keys, configs):
            if k not in self.cache and k not in todo:
                todo[k] = c
        if todo:
            t0 = time.perf_counter()
            new = list(todo.values())
            lat = score_configs(self.st, new)
            for k, c, v in zip(todo, new, lat):
                energy = device_energy_j(self.sd, c.devices, c.server, c.bandwidth_share) if self.energy_weight else 0.0
                self.cache[k] = float(np.sum(v + self.energy_weight * energy))
            if surrogate is not None:
                surrogate.add(new, lat)
            dt = time.perf_counter() - t0
            self.calls += 1
            self.configs += len(new)
            self.seconds += dt
            self.longest_call_s = max(self.longest_call_s, dt)
        return np.array([self.cache[k] for k in keys])


@dataclass
class SlotState:
    """x, g and the share rule per server, with each server's exact cost. A start that keeps its back-end's own
    shares has rule -1 on every server and its configurations in ``own_configs``."""

    st: SlotTasks
    x: np.ndarray
    g: np.ndarray
    rule: np.ndarray
    cost: np.ndarray
    own_configs: list[Config] | None = None

    def members(self, j: int) -> np.ndarray:
        return np.flatnonzero(self.x == j)

    def config(self, j: int, devices: np.ndarray, g: np.ndarray, rule: int) -> Config:
        y, z = rule_shares(self.st, j, devices, g, SHARE_RULES[rule])
        return Config(j, devices, g, y, z)

    def current(self, j: int) -> Config:
        if self.own_configs is not None:
            return self.own_configs[j]
        s = self.members(j)
        return self.config(j, s, self.g[s], int(self.rule[j]))

    def apply(self, move: Move, costs: np.ndarray) -> None:
        for c, r, cost in zip(move.configs, move.rules, costs):
            self.x[c.devices] = c.server
            self.g[c.devices] = c.draft_length
            self.rule[c.server] = r
            self.cost[c.server] = cost

    @property
    def total(self) -> float:
        return float(self.cost.sum())


def length_moves(state: SlotState, lengths: Sequence[int]) -> list[Move]:
    """Every device to every other candidate draft length, on its own server."""
    out = []
    for j in np.unique(state.x):
        s = state.members(int(j))
        r = int(state.rule[j])
        for k, i in enumerate(s):
            for gl in lengths:
                if gl != state.g[i]:
                    g = state.g[s].copy()
                    g[k] = gl
                    out.append(Move((state.config(int(j), s, g, r),), (r,), "length"))
    return out


def relocation_moves(state: SlotState, lengths: Sequence[int], usable: np.ndarray) -> list[Move]:
    """Every device to every other server it can use, at every candidate length (the source server keeps its
    rule; the target server keeps its rule)."""
    out = []
    e = state.cost.size
    members = {j: state.members(j) for j in range(e)}
    for i in range(state.x.size):
        src = int(state.x[i])
        rest = members[src][members[src] != i]
        src_cfg = state.config(src, rest, state.g[rest], int(state.rule[src]))
        for k in np.flatnonzero(usable[i]):
            if k == src:
                continue
            tgt = np.sort(np.append(members[int(k)], i))
            pos = int(np.searchsorted(tgt, i))
            for gl in lengths:
                g = state.g[tgt].copy()
                g[pos] = gl
                out.append(Move((src_cfg, state.config(int(k), tgt, g, int(state.rule[k]))),
                                (int(state.rule[src]), int(state.rule[k])), "relocate"))
    return out


def swap_moves(state: SlotState, usable: np.ndarray, rng: np.random.Generator, limit: int) -> list[Move]:
    """Up to ``limit`` swaps of two devices on different servers that can use each other's server (all such
    pairs when there are no more; a random sample otherwise); each keeps its draft length."""
    x = state.x
    i_idx, k_idx = np.triu_indices(x.size, 1)
    ok = (x[i_idx] != x[k_idx]) & usable[i_idx, x[k_idx]] & usable[k_idx, x[i_idx]]
    pairs = np.flatnonzero(ok)
    if pairs.size > limit:
        pairs = rng.choice(pairs, limit, replace=False)
    out = []
    for p in pairs:
        i, k = int(i_idx[p]), int(k_idx[p])
        a, b = int(x[i]), int(x[k])
        cfgs = []
        for j, leave, come in ((a, i, k), (b, k, i)):
            s = np.sort(np.append(state.members(j)[state.members(j) != leave], come))
            cfgs.append(state.config(j, s, state.g[s], int(state.rule[j])))
        out.append(Move(tuple(cfgs), (int(state.rule[a]), int(state.rule[b])), "swap"))
    return out


def rule_moves(state: SlotState) -> list[Move]:
    """Every server with two or more devices to each other share rule."""
    out = []
    for j in range(state.cost.size):
        s = state.members(j)
        if s.size < 2:
            continue
        for r in range(len(SHARE_RULES)):
            if r != state.rule[j]:
                out.append(Move((state.config(j, s, state.g[s], r),), (r,), "rule"))
    return out


def exchange_moves(state: SlotState, usable: np.ndarray) -> list[Move]:
    """Two servers trade their whole device sets (each device keeps its draft length), where every device can
    use its new server: the move that relabels a crowded server onto a faster or idler one."""
    out = []
    e = state.cost.size
    for a in range(e):
        for b in range(a + 1, e):
            sa, sb = state.members(a), state.members(b)
            if (sa.size == 0 and sb.size == 0) or not (usable[sa, b].all() and usable[sb, a].all()):
                continue
            out.append(Move((state.config(a, sb, state.g[sb], int(state.rule[b])),
                             state.config(b, sa, state.g[sa], int(state.rule[a]))),
                            (int(state.rule[b]), int(state.rule[a])), "exchange"))
    return out
