"""The time-slotted UARA system as a reinforcement-learning environment (TMA-MASAC).

One episode plays the slots of one instance in order (MODEL.md, "Dynamics
across slots"). At slot t the agents see the state (channel, tasks, battery,
server backlog) through per-device features, act, and TMA fixes the
association given the action; battery drain and Lindley backlog then roll
forward with :func:`uara.model.dynamics.roll_forward`.

Agents and action
-----------------
One agent per *device* (decentralised, shared weights, so one policy serves
any M and E). Device i outputs a_i = (u_i, v_i) in [-1, 1]^2:

* bandwidth: u_i rescales the energy price the device sees,
  c'_ij = c_ij exp(beta_y u_i) and p'_i = p_i exp(beta_y u_i) (the physical energy
  model's price per second of uplink). The device's bandwidth share on server j is the
  KKT solution of min lambda (a_i - b_ij / y)^2 + c'_ij y + p'_i b_ij / y (the cubic of
  :mod:`uara.model.allocation`); on the final association the per-server multiplier
  mu_j >= 0 enforces sum_i y_ij <= 1 exactly as the exact allocation does.
  This is the row Y_i of the paper's bandwidth matrix.
* compute: v_i sets the device's weight w_i = sqrt(f_i^ES) exp(beta_z v_i); on
  server j, z_i = w_i / sum_{k on j} w_k (normalised over the server's devices).

At u = v = 0 both rules reduce to the exact allocation (:mod:`uara.model.allocation`),
which is the optimum for a fixed association in a single slot; the policy is a
learned, state-dependent correction around it (the battery it saves now lowers
the w E / B terms of later slots). The decisions are feasible by construction.

TMA given (Y, Z)
----------------
Phase 1: every device on its highest-SNR reachable server. Phase 2: improving
moves while the objective I (with the shares above, budgets ignored during
the search) decreases. Moving device i from j to k changes I by

    D_ik = [(W_j - w_i)(G_j - s_ij/w_i) - W_j G_j] + [(W_k + w_i)(G_k + s_ik/w_i) - W_k G_k]
         + phi_ik - phi_ij + q_k - q_j,

with W_j = sum w, G_j = sum s/w over server j (its compute term is W_j G_j) and
phi_ij = lambda (a_i - t_ij)^2 + c_ij y_ij + p_i t_ij the bandwidth term; all (M, E) moves
are scored at once and the best is applied. (The paper's phase 2 swaps pairs,
which keeps every server's load fixed; single moves can change loads, which the
per-device shares allow.)

Reward
------
r(t) = -(I(t) - C(t)) / (I_b(t) - C(t)), with I_b the objective of a seeded
random association + uniform allocation on the same state and C(t) the
decision-free constant (sum of a_i and w E^CP / B_i). The paper's
r = -I / I_b (``reward="paper"``) ranks actions identically within a slot, but
C is ~99.9 % of I on these instances, so its signal is three orders of
magnitude smaller; dividing the controllable parts keeps the reward of order 1.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from uara.model.allocation import band_cost, bandwidth_shares, exact_allocation, uniform_allocation, uplink_time
from uara.model.dynamics import next_state, roll_forward
from uara.errors import UaraError
from uara.model.evaluator import evaluate
from uara.model.formulation import SlotData, slot_data, sync_target
from uara.model.instance import Instance
from uara.model.solution import SlotDecision

try:  # gymnasium is optional: the API is the same without it.
    import gymnasium as _gym

    _EnvBase: type = _gym.Env
except ImportError:  # pragma: no cover - exercised only without the rl extra
    _gym = None
    _EnvBase = object

#: Per-device observation features (see :func:`device_features`).
FEATURES = (
    "log_a", "log_b_best", "log_b_over_a", "log_c", "log_s_best", "log_s_min",
    "battery", "queue_best", "queue_mean", "log_y_best", "log_load", "frac_usable",
)
OBS_DIM = len(FEATURES)
#: Look-ahead features (issue 27; computed by :func:`uara.solvers.p1.masac.lookahead_features`): the paper's
#: pipeline at the zero action (KKT shares on Max-SINR, then Alg. 1's seat swaps) is run first, and device i,
#: whose action sets the shares of the seat it starts in, sees which device ends in that seat.
LOOKAHEAD_FEATURES = ("log_band_share_needed", "log_compute_share_needed", "seat_changes_hands")
#: The observations a policy may be trained on: name -> feature names (a checkpoint records its list).
FEATURE_SETS = {"base": FEATURES, "lookahead": FEATURES + LOOKAHEAD_FEATURES}
ACT_DIM = 2
#: What the returned shares are once TMA has fixed the association (see :func:`decide`).
FINAL_ALLOCATIONS = ("policy", "exact")
#: Range of the learned corrections: factors exp(+-beta) on the price and on the compute weight.
BETA_Y = 2.0
BETA_Z = 1.0


def device_features(sd: SlotData) -> np.ndarray:
    """Per-device observation o_i, shape (M, OBS_DIM), float32, from one slot's arrays.

    Logs are base 10 of seconds / objective units; "best" is the device's
    highest-SNR reachable server (TMA phase 1). Everything a device can know
    locally plus two broadcast quantities (mean server backlog, devices per server).
    """
    m, e = sd.num_devices, sd.num_servers
    rows = np.arange(m)
    best = sd.max_sinr_association()
    a = sd.device_s
    b = sd.uplink_s_full[rows, best]
    p = sd.uplink_energy_price
    c = sd.energy_cost[rows, best] + p * b  # energy per unit share at y = 1 (either energy model)
    s = sd.server_work_s[rows, best]
    t0 = np.maximum(uplink_time(sd.sync_target_s, b, sd.energy_cost[rows, best], sd.lam, np.zeros(m)), b)
    y0 = np.minimum(b / t0, 1.0)
    lg = lambda x: np.log10(np.maximum(x, 1e-12))  # noqa: E731
    feats = np.stack(
        [
            lg(a),
            lg(b) / 2.0,
            lg(b / a) / 2.0,
            lg(c),
            lg(s) + 1.0,
            lg(sd.server_work_s.min(axis=1)) + 1.0,
            sd.battery,
            np.log1p(sd.queue_s[best]),
            np.full(m, np.log1p(sd.queue_s.mean())),
            lg(y0) + 1.0,
            np.full(m, np.log10(m / e)),
            sd.usable.mean(axis=1),
        ],
        axis=1,
    )
    return np.clip(feats, -10.0, 10.0).astype(np.float32)


def check_final_allocation(value: str, where: str = "final_allocation") -> str:
    """``value`` if it is one of FINAL_ALLOCATIONS, else a one-line error naming ``where``."""
    if value not in FINAL_ALLOCATIONS:
        raise UaraError(f"{where} must be one of {', '.join(FINAL_ALLOCATIONS)}, got {value!r}")
    return value


def policy_shares(sd: SlotData, action: np.ndarray, assoc: np.ndarray, *, beta_y: float = BETA_Y,
                  beta_z: float = BETA_Z) -> tuple[np.ndarray, np.ndarray]:
    """The policy's (Y, Z) on association ``assoc``: band shares from the KKT rule with the action-corrected
    energy prices c'_ij = c_ij exp(beta_y a_i0), compute shares z_i = w_i / sum_{k on j} w_k with
    w_i = sqrt(s_i) exp(beta_z a_i1) (the same rule as :func:`decide`'s final step)."""
    m, e = sd.num_devices, sd.num_servers
    act = np.clip(np.asarray(action, dtype=float).reshape(m, ACT_DIM), -1.0, 1.0)
    rows = np.arange(m)
    scale = np.exp(beta_y * act[:, 0])
    price = sd.energy_cost * scale[:, None]
    y, _, _ = bandwidth_shares(sd.device_s, sd.uplink_s_full[rows, assoc], price[rows, assoc], sd.lam, assoc, e,
                               p=sd.uplink_energy_price * scale)
    w = np.sqrt(sd.server_work_s[:, 0]) * np.exp(beta_z * act[:, 1])
    return y, w / np.bincount(assoc, weights=w, minlength=e)[assoc]


def decide(
    sd: SlotData,
    action: np.ndarray,
    *,
    beta_y: float = BETA_Y,
    beta_z: float = BETA_Z,
    max_moves: int | None = None,
    final_allocation: str = "policy",
) -> SlotDecision:
    """Map an action (M, 2) in [-1, 1] to feasible decisions: shares from the
    action, association from TMA given them (module docstring).

    ``final_allocation="policy"`` (the paper's semantics) returns the policy's
    shares on that association; ``"exact"`` re-solves the allocation exactly
    (:func:`uara.model.allocation.exact_allocation`) once TMA has fixed the
    association, so the action only steers the association. At the zero
    action the two coincide."""
    if final_allocation not in FINAL_ALLOCATIONS:
        raise UaraError(f"final_allocation must be one of {FINAL_ALLOCATIONS}, got {final_allocation!r}")
    m, e = sd.num_devices, sd.num_servers
    act = np.clip(np.asarray(action, dtype=float).reshape(m, ACT_DIM), -1.0, 1.0)
    rows = np.arange(m)
    a, b, lam = sd.device_s, sd.uplink_s_full, sd.lam
    scale = np.exp(beta_y * act[:, 0])
    price = sd.energy_cost * scale[:, None]  # c'_ij, (M, E)
    p_price = sd.uplink_energy_price * scale  # p'_i (physical energy model), (M,)
    target = sync_target(a, p_price, lam)[:, None]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        t0 = uplink_time(target, b, price, lam, np.zeros((m, e)))  # uplink time at mu = 0, (M, E) s
        y0 = np.minimum(b / t0, 1.0)
        phi = band_cost(a[:, None], b, sd.energy_cost, lam, y0, sd.uplink_energy_price[:, None])  # true cost, (M, E)
    phi = np.where(sd.usable & np.isfinite(phi), phi, np.inf)
    w = np.sqrt(sd.server_work_s[:, 0]) * np.exp(beta_z * act[:, 1])  # compute weights, (M,)
    g = sd.server_work_s / w[:, None]  # s_ij / w_i, (M, E)
    phi_q = phi + sd.queue_s[None, :]

    # TMA phase 1: highest SNR.  Phase 2: best improving move until none improves.
    assoc = sd.max_sinr_association()
    cap = 2 * m + 10 if max_moves is None else int(max_moves)
    moves = 0
    tol = 1e-12 * max(1.0, float(np.abs(phi_q[rows, assoc]).sum()))
    while moves < cap:
        wj = np.bincount(assoc, weights=w, minlength=e)
        gj = np.bincount(assoc, weights=g[rows, assoc], minlength=e)
        w_own, g_own = wj[assoc], gj[assoc]
        leave = (w_own - w) * (g_own - g[rows, assoc]) - w_own * g_own + (-phi_q[rows, assoc])  # (M,)
        join = (wj[None, :] + w[:, None]) * (gj[None, :] + g) - (wj * gj)[None, :] + phi_q  # (M, E)
        delta = leave[:, None] + join
        delta[rows, assoc] = np.inf
        flat = int(np.argmin(delta))
        if not delta.flat[flat] < -tol:
            break
        i, k = divmod(flat, e)
        assoc[i] = k
        moves += 1

    if final_allocation == "exact":
        alloc = exact_allocation(sd, assoc)
        return SlotDecision(assoc, alloc.bandwidth_share, alloc.compute_share, info={"moves": moves})
    y, mu, _ = bandwidth_shares(a, b[rows, assoc], price[rows, assoc], lam, assoc, e, p=p_price)
    wj = np.bincount(assoc, weights=w, minlength=e)
    z = w / wj[assoc]
    return SlotDecision(assoc, y, z, info={"moves": moves, "band_price": mu})


def random_uniform_baseline(sd: SlotData, rng: np.random.Generator) -> float:
    """I of the paper's reference: uniformly random reachable server + uniform allocation."""
    assoc = np.where(sd.usable, rng.random(sd.snr.shape), -np.inf).argmax(axis=1)
    alloc = uniform_allocation(sd, assoc)
    return evaluate(sd, assoc, alloc.bandwidth_share, alloc.compute_share).objective


class UARAEnv(_EnvBase):
    """Gymnasium-style environment over a list of instances.

    ``reset(seed=, options={"instance": k})`` picks instance k (default: one at
    random from the env's RNG) and returns ``(obs, info)`` with obs of shape
    (M, OBS_DIM); ``step(action)`` with action (M, 2) in [-1, 1] returns
    ``(obs, reward, terminated, truncated, info)``. The episode ends
    (terminated) after the instance's last slot. M changes between episodes, so
    ``observation_space`` / ``action_space`` are rebuilt at each reset, unless ``max_devices`` is given:
    then the spaces are fixed (vector environments need that) and padded, the observation a dict
    ``{"features": (max_devices, OBS_DIM) float32, "mask": (max_devices,) int8}`` with mask 1 on the
    episode's real devices, and actions (max_devices, 2) whose padded rows are ignored.
    ``info`` carries the slot's objective I, the baseline I_b, the decisions
    and the battery/backlog outcome.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        instances: Sequence[Instance],
        *,
        reward: str = "controllable",
        beta_y: float = BETA_Y,
        beta_z: float = BETA_Z,
        max_moves: int | None = None,
        final_allocation: str = "policy",
        seed: int | None = None,
        max_devices: int | None = None,
    ):
        if not instances:
            raise UaraError("UARAEnv needs at least one instance")
        largest = max(inst.num_devices for inst in instances)
        if max_devices is not None and (not isinstance(max_devices, int) or max_devices < largest):
            raise UaraError(f"max_devices: must be an integer >= the largest instance's {largest} devices, "
                            f"got {max_devices!r}")
        self.max_devices = max_devices
        if reward not in ("controllable", "paper"):
            raise UaraError(f"reward must be 'controllable' or 'paper', got {reward!r}")
        self.instances = list(instances)
        self.reward_kind = reward
        self.beta_y, self.beta_z, self.max_moves = beta_y, beta_z, max_moves
        self.final_allocation = check_final_allocation(final_allocation)
        self._rng = np.random.default_rng(seed)
        self._episode_seed = 0
        self.instance: Instance | None = None
        self.t = 0
        self.state = None
        self.sd: SlotData | None = None
        self.done = False
        self._set_spaces(self.instances[0].num_devices)  # rebuilt at each reset for that episode's M

    def _set_spaces(self, m: int) -> None:
        if _gym is None:
            return
        if self.max_devices is None:
            self.observation_space = _gym.spaces.Box(-10.0, 10.0, (m, OBS_DIM), np.float32)
            self.action_space = _gym.spaces.Box(-1.0, 1.0, (m, ACT_DIM), np.float32)
        elif not hasattr(self, "action_space"):
            n = self.max_devices
            self.observation_space = _gym.spaces.Dict({
                "features": _gym.spaces.Box(-10.0, 10.0, (n, OBS_DIM), np.float32),
                "mask": _gym.spaces.Box(0, 1, (n,), np.int8)})
            self.action_space = _gym.spaces.Box(-1.0, 1.0, (n, ACT_DIM), np.float32)

    def _observe(self, features: np.ndarray) -> Any:
        """The features as they are, or padded to ``max_devices`` with the mask of real devices."""
        if self.max_devices is None:
            return features
        m = features.shape[0]
        padded = np.zeros((self.max_devices, OBS_DIM), np.float32)
        padded[:m] = np.clip(features, -10.0, 10.0)
        mask = np.zeros(self.max_devices, np.int8)
        mask[:m] = 1
        return {"features": padded, "mask": mask}

    # ------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if _gym is not None:
            super().reset(seed=seed)  # gymnasium's np_random (unused here; the env draws from its own _rng)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        options = options or {}
        k = options.get("instance")
        k = int(self._rng.integers(len(self.instances))) if k is None else int(k)
        self.instance = self.instances[k]
        self._episode_seed = int(self._rng.integers(2**31))
        self.t = 0
        self.state = self.instance.slots[0]
        self.sd = slot_data(self.instance, slot=self.state)
        self.done = False
        m = self.instance.num_devices
        self._set_spaces(m)
        return self._observe(device_features(self.sd)), {"instance": self.instance.name, "index": k, "num_devices": m}

    def step(self, action: np.ndarray):
        if self.instance is None or self.sd is None:
            raise UaraError("call reset() before step()")
        if self.done:
            raise UaraError("the episode is over (terminated): call reset() before step()")
        act = np.asarray(action, dtype=float)
        if self.max_devices is not None and act.shape == (self.max_devices, ACT_DIM):
            act = act[: self.instance.num_devices]  # padded rows: no device behind them
        if act.size != self.instance.num_devices * ACT_DIM:
            raise UaraError(f"action: expected shape ({self.instance.num_devices}, {ACT_DIM}), got {act.shape}")
        if not np.all(np.isfinite(act)):
            raise UaraError("action: contains NaN or infinity; expected values in [-1, 1]")
        sd, inst = self.sd, self.instance
        dec = decide(sd, act.reshape(-1, ACT_DIM), beta_y=self.beta_y, beta_z=self.beta_z, max_moves=self.max_moves,
                     final_allocation=self.final_allocation)
        ev = evaluate(sd, dec.association, dec.bandwidth_share, dec.compute_share)
        base = random_uniform_baseline(sd, np.random.default_rng([self._episode_seed, self.t]))
        const = sd.constant
        if self.reward_kind == "paper":
            reward = -ev.objective / base
        else:
            reward = -(ev.objective - const) / (base - const)
        outcome = roll_forward(inst, self.state, dec.association, dec.bandwidth_share)
        info = {
            "objective": ev.objective,
            "baseline": base,
            "constant": const,
            "moves": dec.info["moves"],
            "depleted": outcome.depleted,
            "slot": self.t,
            "feasible": ev.feasible,
        }
        self.t += 1
        terminated = self.t >= inst.num_slots
        self.done = terminated
        if terminated:
            obs = device_features(sd)  # no slot after the last: the final obs is not used (no bootstrap)
        else:
            self.state = next_state(inst, self.t, outcome)
            self.sd = slot_data(inst, slot=self.state)
            obs = device_features(self.sd)
        return self._observe(obs), float(reward), bool(terminated), False, info
