"""Evolution strategies for the TMA-MASAC actor: the policy searched directly on the slot objective.

The shipped SAC policy took none of the headroom its action space holds (``action_headroom``: searching the
action of one slot gains a median 3.5 % of I - C under the paper's semantics, the SAC policy -0.8 %). Here
the same actor (one network shared by every device, features o_i -> action a_i in [-1, 1]^2, the
deterministic action tanh(mean)) is trained by OpenAI-ES (Salimans et al. 2017, arXiv 1703.03864) on

    J(theta) = (1 / |B|) sum_{s in B} g_s(theta),    g_s(theta) = (f_s(0) - f_s(pi_theta(o_s))) / f_s(0),

where f_s(A) = I - C of the decision the semantics (``paper``: the ``masac`` back-end, policy shares on
Max-SINR then TMA's swaps; ``uara``: ``masac-uara``, single-device moves then the exact allocation) makes
from action A on slot s, re-scored by the evaluator. g_s is the relative gain over the zero action (the KKT
prior), so every slot weighs the same whatever its size (per-instance reward normalisation). One iteration
draws a mini-batch B of training slots and n antithetic pairs eps_k ~ N(0, I), scores theta +- sigma eps_k
on the same B (common random numbers), replaces the scores by centred ranks R and steps Adam along

    grad J ~ 1 / (2 n sigma) sum_k (R(theta + sigma eps_k) - R(theta - sigma eps_k)) eps_k.

With ``objective='latency'`` (issue 27 item 3) f_s(A) is instead the decision's summed PSD latency sum_i L_i
(s) on the batched, work-conserving server's event simulation with the tasks' own draft lengths
(:func:`uara.experiments.studies.action_headroom.decision_latency_s`): latency-aware UARA's objective at energy
weight 0, which has no closed form, so the policy learns what the simulator rewards.

The mean head starts at zero, so pi_theta0 is the zero action and J(theta0) = 0 exactly; the checkpoint kept
is the one with the best mean gain on a validation set of other seeds (the zero-action policy if nothing
beats it). Single-device slots only: the objective is the slot's, battery dynamics across slots are not in
the reward. Seeded: the same arguments give the same policy. Resumable: ``<output>.resume`` holds theta,
Adam's moments, the generator's state and the curve after every validation pass.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from uara.errors import UaraError
from uara.experiments.studies.action_headroom import OBJECTIVES, SEMANTICS, action_objective
from uara.model.formulation import SlotData, slot_data
from uara.rl.environment import ACT_DIM, FEATURE_SETS, OBS_DIM

#: Training sizes (M x E) of the default pool: M 30..180, E 4..20 (issue 27 item 4).
DEFAULT_SIZES = tuple((m, e) for m in (30, 60, 90, 120, 150, 180) for e in (4, 8, 12, 16, 20))


@dataclass
class ESArgs:
    """Every hyperparameter of :func:`train_es` (a run is reproducible from these alone)."""

    semantics: str = "paper"
    """meaning of an action: 'paper' (masac) or 'uara' (masac-uara)"""
    objective: str = "cost"
    """what f measures: 'cost' (I - C, P1's objective) or 'latency' (the decision's summed PSD latency on the batched server's event simulation, the tasks' own draft lengths)"""
    features: str = "base"
    """the actor's observation: 'base' (the 12 device features) or 'lookahead' (plus the paper's zero-action seat look-ahead, solvers/p1/masac.py lookahead_features; paper semantics only)"""
    iterations: int = 60
    """ES iterations (one Adam step each)"""
    pairs: int = 10
    """antithetic perturbation pairs per iteration"""
    batch_slots: int = 20
    """training slots scored per iteration (the same for every perturbation)"""
    sigma: float = 0.05
    """perturbation scale on the parameters"""
    lr: float = 0.02
    """Adam step size"""
    hidden: int = 16
    """width of the actor's two hidden layers"""
    sizes: tuple[tuple[int, int], ...] = DEFAULT_SIZES
    """random credible instance sizes of the training and validation pools"""
    train_seed: int = 30000
    """training instance of size k has seed train_seed + 1000 k"""
    train_slots: int = 2
    """slots per training instance"""
    val_seed: int = 31000
    """validation instance of size k has seed val_seed + 1000 k (one slot each)"""
    train_files: tuple[str, ...] = ()
    """instance files whose every slot joins the training pool"""
    val_files: tuple[str, ...] = ()
    """instance files whose every slot joins the validation set"""
    eval_every: int = 5
    """iterations between validation passes"""
    seed: int = 0
    """seed of the initial weights, the mini-batches and the perturbations"""

    def check(self) -> "ESArgs":
        """A one-line :class:`UaraError` naming the first value out of range; returns self."""
        if self.semantics not in SEMANTICS:
            raise UaraError(f"--es-semantics must be one of {', '.join(SEMANTICS)}, got {self.semantics!r}")
        if self.objective not in OBJECTIVES:
            raise UaraError(f"--es-objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if self.features not in FEATURE_SETS:
            raise UaraError(f"--es-features must be one of {', '.join(FEATURE_SETS)}, got {self.features!r}")
        if self.features == "lookahead" and self.semantics != "paper":
            raise UaraError("--es-features lookahead looks ahead along the paper's pipeline: it needs --es-semantics paper")
        for name in ("iterations", "pairs", "batch_slots", "hidden", "train_slots", "eval_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UaraError(f"--es-{name.replace('_', '-')} must be an integer >= 1, got {v!r}")
        for name in ("sigma", "lr"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise UaraError(f"--es-{name} must be a positive number, got {v!r}")
        if not self.sizes or any(m < 1 or e < 1 for m, e in self.sizes):
            raise UaraError(f"--es-sizes needs M >= 1 and E >= 1 for every size, got {self.sizes!r}")
        return self


# -- the actor as a flat parameter vector -------------------------------------------------------------------

def parameter_shapes(hidden: int, obs_dim: int = OBS_DIM) -> list[tuple[int, ...]]:
    """Shapes of (W1, b1, W2, b2, W3, b3) of h1 = relu(o W1 + b1), h2 = relu(h1 W2 + b2), mean = h2 W3 + b3."""
    return [(obs_dim, hidden), (hidden,), (hidden, hidden), (hidden,), (hidden, ACT_DIM), (ACT_DIM,)]


def observation_size(theta: np.ndarray, hidden: int) -> int:
    """The observation width n of a parameter vector: theta.size = n h + h + h^2 + h + 2 h + 2."""
    return (theta.size - (hidden * hidden + 4 * hidden + ACT_DIM)) // hidden


def unpack(theta: np.ndarray, hidden: int) -> list[np.ndarray]:
    """The six arrays of :func:`parameter_shapes` as views of ``theta``."""
    out, k = [], 0
    for shape in parameter_shapes(hidden, observation_size(theta, hidden)):
        n = int(np.prod(shape))
        out.append(theta[k:k + n].reshape(shape))
        k += n
    if k != theta.size:
        raise UaraError(f"parameter vector has {theta.size} entries, the actor with hidden={hidden} needs {k}")
    return out


def initial_parameters(hidden: int, rng: np.random.Generator, obs_dim: int = OBS_DIM) -> np.ndarray:
    """Hidden layers uniform in +-1/sqrt(fan-in) (torch's default), biases and the mean head zero: the
    zero action."""
    parts = []
    for shape in parameter_shapes(hidden, obs_dim):
        if len(shape) == 2 and shape[1] != ACT_DIM:
            parts.append(rng.uniform(-1.0, 1.0, shape).ravel() / math.sqrt(shape[0]))
        else:
            parts.append(np.zeros(int(np.prod(shape))))
    return np.concatenate(parts)


def actor_action(theta: np.ndarray, obs: np.ndarray, hidden: int) -> np.ndarray:
    """tanh(mean) of the actor for features ``obs`` (M, OBS_DIM): the action (M, ACT_DIM)."""
    w1, b1, w2, b2, w3, b3 = unpack(theta, hidden)
    h = np.maximum(obs @ w1 + b1, 0.0)
    h = np.maximum(h @ w2 + b2, 0.0)
    return np.tanh(h @ w3 + b3)


def actor_state_dict(theta: np.ndarray, hidden: int) -> dict:
    """``theta`` as the state dict of :class:`uara.rl.policy.Actor` (its log-std head zero: unused by the
    deterministic action), so the result loads with :func:`uara.rl.policy.load_policy`."""
    import torch

    w1, b1, w2, b2, w3, b3 = (torch.as_tensor(np.array(a), dtype=torch.float32) for a in unpack(theta, hidden))
    return {"trunk.0.weight": w1.T.contiguous(), "trunk.0.bias": b1, "trunk.2.weight": w2.T.contiguous(),
            "trunk.2.bias": b2, "fc_mean.weight": w3.T.contiguous(), "fc_mean.bias": b3,
            "fc_logstd.weight": torch.zeros(ACT_DIM, hidden), "fc_logstd.bias": torch.zeros(ACT_DIM)}


# -- the objective -------------------------------------------------------------------------------------------

@dataclass
class ScoredSlot:
    """One slot with its features, f (the semantics' I - C of an action) and f(0)."""

    key: str
    obs: np.ndarray
    f: Callable[[np.ndarray], float]
    zero_value: float


def slot_pool(sizes: Sequence[tuple[int, int]], seed: int, slots: int, semantics: str,
              objective: str = "cost", features: str = "base") -> list[ScoredSlot]:
    """Every slot of ``random_instance(M, E, slots=slots, seed=seed + 1000 k)`` for the k-th size."""
    from uara.scenario.random_instance import random_instance

    out = []
    for k, (m, e) in enumerate(sizes):
        inst = random_instance(int(m), int(e), slots=slots, seed=seed + 1000 * k)
        for t in range(slots):
            out.append(instance_slot(f"random_{m}x{e}_seed{seed + 1000 * k}/slot{t}", inst, t, semantics, objective,
                                     features))
    return out


def file_pool(paths: Sequence[str], semantics: str, objective: str = "cost", features: str = "base") -> list[ScoredSlot]:
    """Every slot of every instance file in ``paths``."""
    from uara.model.instance import Instance

    out = []
    for path in paths:
        if not Path(path).is_file():
            raise UaraError(f"--es-train-files/--es-val-files: no such instance file: {path}")
        inst = Instance.load(path)
        out += [instance_slot(f"{Path(path).stem}/slot{t}", inst, t, semantics, objective, features)
                for t in range(inst.num_slots)]
    return out


def instance_slot(key: str, inst: Any, t: int, semantics: str, objective: str, features: str = "base") -> ScoredSlot:
    """Slot ``t`` of ``inst`` scored by ``objective`` (the latency one simulates the slot's own tasks)."""
    tasks = None
    if objective == "latency":
        from uara.psd.server_configs import slot_tasks

        tasks = slot_tasks(inst, t)
    return scored_slot(key, slot_data(inst, t), semantics, tasks, features)


def scored_slot(key: str, sd: SlotData, semantics: str, tasks: Any = None, features: str = "base") -> ScoredSlot:
    """A slot ready for :func:`relative_gains` (``tasks``: score the decision's latency, not its I - C; ``features``:
    the observation, :func:`uara.solvers.p1.masac.policy_observation`)."""
    from uara.solvers.p1.masac import policy_observation

    f = action_objective(sd, semantics, tasks)
    obs = policy_observation(sd, features).astype(float)
    return ScoredSlot(key, obs, f, f(np.zeros((sd.num_devices, ACT_DIM))))


def relative_gains(theta: np.ndarray, pool: Sequence[ScoredSlot], hidden: int) -> np.ndarray:
    """g_s(theta) = (f_s(0) - f_s(pi_theta(o_s))) / f_s(0) for every slot of ``pool``."""
    return np.array([(s.zero_value - s.f(actor_action(theta, s.obs, hidden))) / s.zero_value for s in pool])


def centred_ranks(scores: np.ndarray) -> np.ndarray:
    """Ranks of ``scores`` mapped to [-0.5, 0.5] (ties keep their order)."""
    n = scores.size
    return scores.argsort(kind="stable").argsort(kind="stable") / max(n - 1, 1) - 0.5


def es_gradient(theta: np.ndarray, batch: Sequence[ScoredSlot], args: ESArgs,
                rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """(the antithetic rank-based estimate of grad J at theta on ``batch``, mean J over the perturbations)."""
    eps = rng.standard_normal((args.pairs, theta.size))
    plus = np.array([relative_gains(theta + args.sigma * e, batch, args.hidden).mean() for e in eps])
    minus = np.array([relative_gains(theta - args.sigma * e, batch, args.hidden).mean() for e in eps])
    ranks = centred_ranks(np.concatenate([plus, minus]))
    diff = ranks[:args.pairs] - ranks[args.pairs:]
    return (diff[:, None] * eps).sum(axis=0) / (2 * args.pairs * args.sigma), float(np.r_[plus, minus].mean())


@dataclass
class AdamState:
    """Adam's moments and step count (Kingma and Ba 2015; beta1 0.9, beta2 0.999)."""

    m: np.ndarray
    v: np.ndarray
    t: int = 0

    def ascent_step(self, grad: np.ndarray, lr: float) -> np.ndarray:
        """The bias-corrected step lr m_hat / (sqrt(v_hat) + 1e-8) along ``grad`` (to be added)."""
        self.t += 1
        self.m = 0.9 * self.m + 0.1 * grad
        self.v = 0.999 * self.v + 0.001 * grad * grad
        m_hat = self.m / (1.0 - 0.9 ** self.t)
        v_hat = self.v / (1.0 - 0.999 ** self.t)
        return lr * m_hat / (np.sqrt(v_hat) + 1e-8)


# -- the run -------------------------------------------------------------------------------------------------

@dataclass
class ESRun:
    """What a run leaves: the kept parameters, their validation gains, the curve and timings."""

    theta: np.ndarray
    best_iteration: int
    val_gains: np.ndarray
    curve: list[dict]
    wall_s: float
    train_slots: int
    val_slots: int


def train_es(args: ESArgs, resume: str | Path | None = None, log: Callable[[str], None] | None = None) -> ESRun:
    """Run :class:`ESArgs`' ES (module docstring); with ``resume`` (a path) continue from it if it exists and
    rewrite it after every validation pass."""
    args.check()
    t0 = time.perf_counter()
    pool = (args.semantics, args.objective, args.features)
    train = slot_pool(args.sizes, args.train_seed, args.train_slots, *pool) + file_pool(args.train_files, *pool)
    val = slot_pool(args.sizes, args.val_seed, 1, *pool) + file_pool(args.val_files, *pool)
    state = _load_resume(resume, args) if resume is not None else None
    if state is None:
        rng = np.random.default_rng(args.seed)
        theta = initial_parameters(args.hidden, rng, len(FEATURE_SETS[args.features]))
        state = {"theta": theta, "adam": AdamState(np.zeros(theta.size), np.zeros(theta.size)), "rng": rng,
                 "iteration": 0, "curve": [], "best": (np.zeros(len(val)), 0, theta.copy()), "wall_s": 0.0}
    theta, adam, rng = state["theta"], state["adam"], state["rng"]
    best_gains, best_it, best_theta = state["best"]  # the zero-action start gains exactly 0 on every slot
    batch = min(args.batch_slots, len(train))
    for it in range(state["iteration"], args.iterations):
        idx = rng.choice(len(train), batch, replace=False)
        grad, train_mean = es_gradient(theta, [train[i] for i in idx], args, rng)
        theta = theta + adam.ascent_step(grad, args.lr)
        if (it + 1) % args.eval_every == 0 or it + 1 == args.iterations:
            gv = relative_gains(theta, val, args.hidden)
            if gv.mean() > best_gains.mean():
                best_gains, best_it, best_theta = gv, it + 1, theta.copy()
            wall = state["wall_s"] + time.perf_counter() - t0
            state["curve"].append({"iteration": it + 1, "train_gain": train_mean, "val_mean_gain": float(gv.mean()),
                                   "val_median_gain": float(np.median(gv)), "val_worse": int((gv < 0).sum()),
                                   "wall_s": round(wall, 1)})
            if log is not None:
                c = state["curve"][-1]
                log(f"iteration {it + 1}: train {100 * train_mean:.3f} %, validation mean {100 * c['val_mean_gain']:.3f} %"
                    f" median {100 * c['val_median_gain']:.3f} %, worse on {c['val_worse']}/{len(val)}, {wall:.0f} s")
            if resume is not None:
                _save_resume(resume, args, theta, adam, rng, it + 1, state["curve"], (best_gains, best_it, best_theta), wall)
    wall = state["wall_s"] + time.perf_counter() - t0
    return ESRun(best_theta, best_it, best_gains, state["curve"], wall, len(train), len(val))


def _save_resume(path: str | Path, args: ESArgs, theta: np.ndarray, adam: AdamState, rng: np.random.Generator,
                 iteration: int, curve: list[dict], best: tuple[np.ndarray, int, np.ndarray], wall_s: float) -> None:
    import torch

    from uara.rl.policy import save_checkpoint_atomically

    t = lambda a: torch.as_tensor(np.asarray(a, dtype=float))  # noqa: E731
    save_checkpoint_atomically(path, {
        "args": args_record(args), "theta": t(theta), "adam_m": t(adam.m), "adam_v": t(adam.v), "adam_t": adam.t,
        "rng": rng.bit_generator.state, "iteration": iteration, "curve": curve,
        "best_val_gains": t(best[0]), "best_iteration": best[1], "best_theta": t(best[2]), "wall_s": wall_s})


def _load_resume(path: str | Path, args: ESArgs) -> dict | None:
    from uara.rl.policy import load_checkpoint_data

    if not Path(path).is_file():
        return None
    blob = load_checkpoint_data(path, "ES resume file")
    if blob.get("args") != args_record(args):
        raise UaraError(f"{path} was written by a run with other arguments; delete it or pass the same ones")
    rng = np.random.default_rng()
    rng.bit_generator.state = blob["rng"]
    arr = lambda k: blob[k].numpy().astype(float)  # noqa: E731
    return {"theta": arr("theta"), "adam": AdamState(arr("adam_m"), arr("adam_v"), int(blob["adam_t"])), "rng": rng,
            "iteration": int(blob["iteration"]), "curve": list(blob["curve"]),
            "best": (arr("best_val_gains"), int(blob["best_iteration"]), arr("best_theta")),
            "wall_s": float(blob["wall_s"])}


def args_record(args: ESArgs) -> dict:
    """The arguments as plain JSON-able data (tuples as lists)."""
    rec = dataclasses.asdict(args)
    return {**rec, "sizes": [list(v) for v in args.sizes], "train_files": list(args.train_files),
            "val_files": list(args.val_files)}


def save_es_policy(path: str | Path, run: ESRun, args: ESArgs, extra: dict | None = None) -> Path:
    """The kept parameters as a masac checkpoint (:func:`uara.rl.policy.save_actor_checkpoint`) that the
    ``masac`` and ``masac-uara`` back-ends load; ``args`` and the run's record go into its metadata."""
    from uara.rl.policy import save_actor_checkpoint

    final = "policy" if args.semantics == "paper" else "exact"
    record = {"es": {"best_iteration": run.best_iteration, "val_mean_gain": float(run.val_gains.mean()),
                     "val_median_gain": float(np.median(run.val_gains)), "wall_s": round(run.wall_s, 1),
                     "train_slots": run.train_slots, "val_slots": run.val_slots, "curve": run.curve}}
    return save_actor_checkpoint(path, actor_state_dict(run.theta, args.hidden), args.hidden,
                                 {**args_record(args), "algorithm": "es", "final_allocation": final},
                                 extra={**record, **(extra or {})}, features=FEATURE_SETS[args.features])
