"""A fast surrogate of a server configuration's latency, fitted to and checked against the event simulator.

For device i at draft length g on server j with band share y, among the devices S of the configuration:

    R_i(g)   rounds of sequential SD on the task's own trace (each round commits the accepted prefix,
             at most g, plus one token): an exact count, precomputed for every candidate g
    d_i      = g t_d,i                                     drafting per round (s)
    u_i      = b_i(g) / (y r_ij)                           uplink per round (s)
    c_i      = 2 l + b_down(g) / r_down                    fixed link time per round (s)
    P_j      = o_j + W / B_mem,j (+ its FLOP roof)          one request's pass on server j (s)
    rho_j    = bg_j + sum_{k in S} P_j / (d_k + u_k + c_k + P_j)    the server's busy fraction (crude)

and the predicted latency is linear in five features,

    L_i ~ R_i [ a_1 max(d_i, u_i + c_i + P_j) + a_2 d_i + a_3 (u_i + c_i) + a_4 P_j + a_5 P_j rho_{j,-i} ],

with a >= 0 fitted by non-negative least squares to the exact latencies of every configuration the event
simulator has scored in the search so far (:meth:`Surrogate.fit`). The first term is PSD's overlap (the
phone drafts the next block while the last one is verified), the last the wait for other tenants'
passes. It ranks candidate moves; only the exact simulator decides (solvers/latency/search.py), and
:meth:`Surrogate.check` reports how well the fitted surrogate predicted the configurations scored
afterwards (median relative error and rank correlation), which ``latency-search`` records in its info.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from uara.psd.server_configs import Config, SlotTasks, round_bits
from uara.psd.simulation.acceptance import next_mismatch

FEATURES = ("overlap", "draft", "link", "pass", "contention")


def sequential_rounds(st: SlotTasks, lengths: Sequence[int]) -> np.ndarray:
    """(M, max(lengths) + 1) rounds R_i(g) of sequential SD on each task's trace (column g; 0 unused)."""
    nf = next_mismatch(st.match)
    m = st.num_devices
    out = np.zeros((m, max(lengths) + 1))
    rows = np.arange(m)
    for g in lengths:
        pos = np.zeros(m, dtype=np.int64)
        r = np.zeros(m)
        live = pos < st.n_out
        while live.any():
            acc = np.minimum(nf[rows[live], pos[live]] - pos[live], g)
            pos[live] += acc + 1
            r[live] += 1
            live = pos < st.n_out
        out[:, g] = r
    return out


class Surrogate:
    """The fitted model of the module docstring for one slot's :class:`SlotTasks`."""

    def __init__(self, st: SlotTasks, lengths: Sequence[int]):
        self.st = st
        self.rounds = sequential_rounds(st, lengths)
        e = st.num_servers
        if st.server_model == "batched":
            from uara.model.shared.server_model import batch_pass_s

            hw = st.hardware
            mean_ft = float(np.mean(st.target_flops))
            self.pass_s = batch_pass_s(hw.pass_overhead_s, st.cost.weight_bytes,
                                       float(np.mean(st.prompt_tokens + st.n_out / 2)) * st.cost.kv_bytes_per_token,
                                       hw.memory_bandwidth_bytes_per_s, 5.0 * mean_ft, hw.flops)
            self.background = np.full(e, float(getattr(st.instance.params, "background_load", 0.0)))
        else:
            self.pass_s = np.zeros(e)
            self.background = np.zeros(e)
        self.coef = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
        self.history_x: list[np.ndarray] = []
        self.history_y: list[np.ndarray] = []

    def features(self, configs: Sequence[Config]) -> tuple[np.ndarray, np.ndarray]:
        """(n, 5) features of every device of every configuration, and each row's configuration index."""
        st = self.st
        dev = np.concatenate([c.devices for c in configs]).astype(np.int64)
        cid = np.concatenate([np.full(c.devices.size, k) for k, c in enumerate(configs)]).astype(np.int64)
        srv = np.array([c.server for c in configs], dtype=np.int64)[cid]
        g = np.concatenate([c.draft_length for c in configs]).astype(np.int64)
        y = np.concatenate([c.bandwidth_share for c in configs]).astype(float)
        z = np.concatenate([c.compute_share for c in configs]).astype(float)
        r = self.rounds[dev, g]
        d = g * st.draft_s_per_token[dev]
        with np.errstate(divide="ignore"):
            u = round_bits(st, dev, g) / (y * st.rate_bps[dev, srv])
        c = 2.0 * st.options.link_latency_s + st.down_bits[dev, g] / st.options.downlink_bps
        if st.server_model == "batched":
            p = self.pass_s[srv]
        else:
            with np.errstate(divide="ignore"):
                p = (g + 1.0) * st.target_flops[dev] / (z * np.asarray(st.instance.server_flops, dtype=float)[srv])
        own = p / (d + u + c + p)
        load = np.bincount(cid, weights=own, minlength=len(configs))[cid] - own + self.background[srv]
        x = r[:, None] * np.stack([np.maximum(d, u + c + p), d, u + c, p, p * np.minimum(load, 1.0)], axis=1)
        return x, cid

    def predict(self, configs: Sequence[Config]) -> np.ndarray:
        """(K,) predicted sum of the configurations' latencies (s)."""
        if not configs:
            return np.zeros(0)
        x, cid = self.features(configs)
        return np.bincount(cid, weights=x @ self.coef, minlength=len(configs))

    def add(self, configs: Sequence[Config], latency_s: Sequence[np.ndarray]) -> None:
        """Remember the exact latencies of scored configurations (finite ones) for the next :meth:`fit`."""
        x, _ = self.features(configs)
        lat = np.concatenate(list(latency_s))
        ok = np.isfinite(lat) & np.isfinite(x).all(axis=1)
        self.history_x.append(x[ok])
        self.history_y.append(lat[ok])

    def fit(self) -> None:
        """Non-negative least squares of every remembered latency on its features (relative errors)."""
        from scipy.optimize import nnls

        if not self.history_y:
            return
        x = np.concatenate(self.history_x)
        y = np.concatenate(self.history_y)
        if y.size < len(FEATURES):
            return
        w = 1.0 / np.maximum(y, 1e-9)
        coef, _ = nnls(x * w[:, None], y * w)
        if np.isfinite(coef).all() and coef.any():
            self.coef = coef

    def check(self, configs: Sequence[Config], latency_sum_s: np.ndarray) -> dict[str, float]:
        """How the current fit predicts configurations it was not fitted to (their exact summed latencies
        ``latency_sum_s``, (K,)): median relative error and Spearman's rank correlation across them."""
        pred = self.predict(configs)
        true = np.asarray(latency_sum_s, dtype=float)
        ok = np.isfinite(true) & np.isfinite(pred) & (true > 0)
        if ok.sum() < 2:
            return {"configs": int(ok.sum())}
        rel = np.abs(pred[ok] - true[ok]) / true[ok]
        rp, rt = np.argsort(np.argsort(pred[ok])), np.argsort(np.argsort(true[ok]))
        rho = float(np.corrcoef(rp, rt)[0, 1]) if np.std(rp) > 0 and np.std(rt) > 0 else float("nan")
        return {"configs": int(ok.sum()), "median_rel_error": float(np.median(rel)), "rank_correlation": rho}
