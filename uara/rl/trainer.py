"""TMA-MASAC: multi-agent soft actor-critic for UARA, in one readable file (CleanRL style).

Read top to bottom: the critic (:class:`SoftQ`), the replay buffer, the update,
the training loop (:func:`train`). The hyperparameters are
:class:`uara.rl.train_args.MASACArgs`; the actor and its checkpoints
(:class:`~uara.rl.policy.Actor`, :func:`~uara.rl.policy.save_policy`,
:func:`~uara.rl.policy.load_policy`) are :mod:`uara.rl.policy`.
The environment, the agents' action and the reward are in :mod:`uara.rl.environment`;
docs/masac.md explains the design.

Agents are the devices: each runs the same small actor on its own features
o_i (M, OBS_DIM) and outputs a_i in [-1, 1]^2 (decentralised execution,
parameter sharing, so any M and E). The two critics are centralised: each
sees every agent's observation and action through a permutation-invariant
(DeepSets) encoder, Q(s, a) = psi([mean_i h_i, max_i h_i]), h_i = phi(o_i, a_i).

Soft actor-critic (Haarnoja et al. 2018) with, per agent, the entropy of its
tanh-Gaussian policy; the joint entropy bonus is the mean over agents:

    y      = r + gamma (1 - done) [ min_k Qbar_k(s', a') - alpha mean_i log pi(a'_i | o'_i) ],  a' ~ pi
    L_Q    = sum_k (Q_k(s, a) - y)^2
    L_pi   = alpha mean_i log pi(a_i | o_i) - min_k Q_k(s, a),    a ~ pi (reparameterised)
    L_alpha = -log_alpha (mean_i log pi(a_i | o_i) + H_target),   H_target = -ACT_DIM
    phi_bar <- xi phi + (1 - xi) phi_bar                           (soft target update)

torch is imported here, never by ``import uara``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from uara.errors import MissingDependencyError, UaraError
from uara.rl.environment import ACT_DIM, OBS_DIM, UARAEnv, check_final_allocation
from uara.model.instance import Instance
from uara.scenario.random_instance import random_instance

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as _exc:  # pragma: no cover - exercised only without the rl extra
    raise MissingDependencyError("torch", "rl", feature="TMA-MASAC") from _exc

from uara.rl.policy import Actor, load_checkpoint_data, mlp, resolve_device, save_policy
from uara.rl.train_args import MASACArgs

from uara.model.shared.formats import MASAC_RESUME_FORMAT as RESUME_FORMAT  # noqa: E402


class SoftQ(nn.Module):
    """Centralised critic Q(s, a), (B, M, OBS_DIM), (B, M, ACT_DIM), mask (B, M) -> (B,).

    Every agent's (o_i, a_i) is embedded, h_i = phi(o_i, a_i); the joint context
    g = mean_i h_i sees all agents; Q = mean_i psi([h_i, g]). The per-agent
    terms give each agent's action a direct gradient path (credit assignment)
    while the context keeps the critic centralised.
    """

    def __init__(self, obs_dim: int = OBS_DIM, act_dim: int = ACT_DIM, hidden: int = 64):
        super().__init__()
        self.phi = mlp([obs_dim + act_dim, hidden, hidden])
        self.psi = mlp([2 * hidden, hidden, 1])

    def forward(self, obs: torch.Tensor, act: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.phi(torch.cat([obs, act], dim=-1)))  # (B, M, H)
        m = mask.unsqueeze(-1)
        g = (h * m).sum(1, keepdim=True) / m.sum(1, keepdim=True).clamp(min=1.0)  # (B, 1, H)
        q = self.psi(torch.cat([h, g.expand_as(h)], dim=-1)).squeeze(-1)  # (B, M)
        return masked_mean(q, mask)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over agents of x (B, M) where mask (B, M) is 1."""
    return (x * mask).sum(1) / mask.sum(1).clamp(min=1.0)


# ------------------------------------------------------------------ replay buffer
class ReplayBuffer:
    """Transitions of varying M, stored padded to ``max_m`` (observations as float16)."""

    def __init__(self, capacity: int, max_m: int):
        self.capacity, self.max_m = capacity, max_m
        self.obs = np.zeros((capacity, max_m, OBS_DIM), np.float16)
        self.next_obs = np.zeros((capacity, max_m, OBS_DIM), np.float16)
        self.act = np.zeros((capacity, max_m, ACT_DIM), np.float32)
        self.m = np.zeros(capacity, np.int32)
        self.rew = np.zeros(capacity, np.float32)
        self.done = np.zeros(capacity, np.float32)
        self.pos = 0
        self.full = False

    def __len__(self) -> int:
        return self.capacity if self.full else self.pos

    def add(self, obs: np.ndarray, act: np.ndarray, rew: float, next_obs: np.ndarray, done: bool) -> None:
        m = obs.shape[0]
        p = self.pos
        self.obs[p] = 0
        self.next_obs[p] = 0
        self.act[p] = 0
        self.obs[p, :m], self.next_obs[p, :m], self.act[p, :m] = obs, next_obs, act
        self.m[p], self.rew[p], self.done[p] = m, rew, float(done)
        self.pos = (p + 1) % self.capacity
        self.full = self.full or self.pos == 0

    def sample(self, batch: int, rng: np.random.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        idx = rng.integers(len(self), size=batch)
        mm = int(self.m[idx].max())  # pad only to the largest M in the batch
        t = lambda x: torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32, device=device)  # noqa: E731
        mask = (np.arange(mm)[None, :] < self.m[idx][:, None]).astype(np.float32)
        return {
            "obs": t(self.obs[idx, :mm]),
            "next_obs": t(self.next_obs[idx, :mm]),
            "act": t(self.act[idx, :mm]),
            "rew": t(self.rew[idx]),
            "done": t(self.done[idx]),
            "mask": t(mask),
        }

    def state_dict(self) -> dict[str, Any]:
        n = len(self)
        # Tensors, not numpy arrays: the resume file is read back with torch.load(weights_only=True).
        arrays = {key: torch.from_numpy(getattr(self, key)[:n].copy()) for key in ("obs", "next_obs", "act", "m", "rew", "done")}
        return {**arrays, "pos": int(self.pos), "full": bool(self.full)}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        d = {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in d.items()}
        n = len(d["m"])
        mm = min(self.max_m, d["obs"].shape[1])
        for key in ("obs", "next_obs", "act"):
            getattr(self, key)[:n, :mm] = d[key][:, :mm]
        self.m[:n], self.rew[:n], self.done[:n] = d["m"], d["rew"], d["done"]
        self.pos, self.full = int(d["pos"]), bool(d["full"])


# ------------------------------------------------------------------ evaluation
def evaluate_policy(
    act_fn: Callable[[np.ndarray], np.ndarray],
    instances: Sequence[Instance],
    args: MASACArgs,
    seed: int = 12345,
    final_allocation: str | None = None,
) -> dict[str, float]:
    """Run one deterministic episode per instance; mean reward per slot (controllable parts, -(I-C)/(I_b-C)).
    ``final_allocation`` defaults to the one the run trains under (``args.final_allocation``)."""
    env = UARAEnv(instances, beta_y=args.beta_y, beta_z=args.beta_z, seed=seed,
                  final_allocation=final_allocation or args.final_allocation)
    rewards: list[float] = []
    for k in range(len(instances)):
        obs, _ = env.reset(seed=seed + k, options={"instance": k})
        done = False
        while not done:
            obs, r, done, trunc, _ = env.step(act_fn(obs))
            rewards.append(r)
            done = done or trunc
    return {"reward": float(np.mean(rewards))}


def make_instances(args: MASACArgs, extra: Sequence[Instance] = ()) -> tuple[list[Instance], list[Instance]]:
    """(training pool, evaluation set): random instances of varied (M, E) seeded from ``args.seed``, plus ``extra`` in training."""
    rng = np.random.default_rng([args.seed, 7])
    train = []
    for k in range(args.train_instances):
        m = int(rng.choice(args.train_m))
        e = int(rng.choice(args.train_e))
        train.append(random_instance(m, e, slots=args.train_slots, seed=int(rng.integers(2**31)), name=f"train{k}_m{m}_e{e}",
                                     preset=args.preset))
    evals = [
        random_instance(m, e, slots=args.eval_slots, seed=10_000 + 97 * args.seed + k, name=f"eval_m{m}_e{e}",
                        preset=args.preset)
        for k, (m, e) in enumerate(args.eval_sizes)
    ]
    return train + list(extra), evals


# ------------------------------------------------------------------ training
@dataclass
class TrainResult:
    policy_path: Path
    last_policy_path: Path | None = None
    best_step: int = 0
    best_reward: float = float("-inf")
    curve: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    wall_s: float = 0.0


def last_path(output: str | Path) -> Path:
    """Where the *last* policy goes: ``<output>.last`` (``output`` itself holds the best one)."""
    p = Path(output)
    return p.with_name(p.name + ".last")


def resume_path(output: str | Path) -> Path:
    """Where the full training state lives next to the policy (critics, optimisers, buffer, RNGs):
    ``<output>.resume`` (not ``*.pt``, so it never ships as package data)."""
    p = Path(output)
    return p.with_name(p.name + ".resume")


@dataclass
class Learner:
    """Everything SAC updates: the actor, twin critics and their targets, the optimisers,
    the entropy coefficient log(alpha) and the replay buffer."""

    actor: Actor
    qf1: SoftQ
    qf2: SoftQ
    qf1_t: SoftQ
    qf2_t: SoftQ
    q_opt: Any
    pi_opt: Any
    a_opt: Any
    log_alpha: Any
    rb: ReplayBuffer

    @classmethod
    def create(cls, args: MASACArgs, device: Any, max_m: int) -> "Learner":
        actor = Actor(OBS_DIM, ACT_DIM, args.hidden, init_scale=args.init_scale).to(device)
        qf1, qf2 = SoftQ(hidden=args.hidden).to(device), SoftQ(hidden=args.hidden).to(device)
        qf1_t, qf2_t = SoftQ(hidden=args.hidden).to(device), SoftQ(hidden=args.hidden).to(device)
        qf1_t.load_state_dict(qf1.state_dict())
        qf2_t.load_state_dict(qf2.state_dict())
        log_alpha = torch.tensor([math.log(args.alpha)], device=device, requires_grad=True)
        return cls(actor, qf1, qf2, qf1_t, qf2_t,
                   torch.optim.Adam(list(qf1.parameters()) + list(qf2.parameters()), lr=args.q_lr),
                   torch.optim.Adam(actor.parameters(), lr=args.policy_lr),
                   torch.optim.Adam([log_alpha], lr=args.q_lr), log_alpha, ReplayBuffer(args.buffer_size, max_m))

    _MODULES = ("actor", "qf1", "qf2", "qf1_t", "qf2_t", "q_opt", "pi_opt", "a_opt")

    def state_dict(self) -> dict[str, Any]:
        return {**{k: getattr(self, k).state_dict() for k in self._MODULES},
                "log_alpha": self.log_alpha.detach(), "buffer": self.rb.state_dict()}

    def load_state_dict(self, st: dict[str, Any]) -> None:
        for k in self._MODULES:
            getattr(self, k).load_state_dict(st[k])
        with torch.no_grad():
            self.log_alpha.copy_(st["log_alpha"])
        self.rb.load_state_dict(st["buffer"])

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        """The deterministic action tanh(mean) for features (M, OBS_DIM)."""
        device = self.log_alpha.device
        with torch.no_grad():
            mean, _ = self.actor(torch.as_tensor(obs, dtype=torch.float32, device=device))
            return torch.tanh(mean).cpu().numpy().astype(float)

    def update(self, data: dict[str, Any], step: int, args: MASACArgs, stats: dict[str, float]) -> None:
        """One SAC update (module docstring): critics on y, then every ``policy_frequency`` steps
        the actor and alpha (as many times, CleanRL's compensation), then the soft target update."""
        mask, alpha = data["mask"], self.log_alpha.exp()
        with torch.no_grad():
            next_a, next_logp, _ = self.actor.get_action(data["next_obs"])
            q_next = torch.min(self.qf1_t(data["next_obs"], next_a, mask), self.qf2_t(data["next_obs"], next_a, mask))
            target = data["rew"] + (1.0 - data["done"]) * args.gamma * (q_next - alpha * masked_mean(next_logp, mask))
        q_loss = F.mse_loss(self.qf1(data["obs"], data["act"], mask), target) \
            + F.mse_loss(self.qf2(data["obs"], data["act"], mask), target)
        self.q_opt.zero_grad()
        q_loss.backward()
        self.q_opt.step()
        stats["q_loss"] = float(q_loss.item())
        if step % args.policy_frequency == 0:
            for _ in range(args.policy_frequency):
                a, logp, _ = self.actor.get_action(data["obs"])
                q_pi = torch.min(self.qf1(data["obs"], a, mask), self.qf2(data["obs"], a, mask))
                pi_loss = (self.log_alpha.exp().detach() * masked_mean(logp, mask) - q_pi).mean()
                self.pi_opt.zero_grad()
                pi_loss.backward()
                self.pi_opt.step()
                stats["actor_loss"] = float(pi_loss.item())
                if args.autotune:
                    with torch.no_grad():
                        _, logp, _ = self.actor.get_action(data["obs"])
                        logp_m = masked_mean(logp, mask)
                    a_loss = (-self.log_alpha.exp() * (logp_m - float(ACT_DIM))).mean()  # H_target = -ACT_DIM
                    self.a_opt.zero_grad()
                    a_loss.backward()
                    self.a_opt.step()
        with torch.no_grad():  # phi_bar <- xi phi + (1 - xi) phi_bar
            for net, tgt in ((self.qf1, self.qf1_t), (self.qf2, self.qf2_t)):
                for p, tp in zip(net.parameters(), tgt.parameters()):
                    tp.mul_(1.0 - args.tau).add_(args.tau * p)


def train(
    args: MASACArgs,
    *,
    output: str | Path,
    extra_instances: Sequence[Instance] = (),
    resume: bool = False,
    progress: bool = True,
    curve_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train MASAC. At each evaluation (deterministic policy on the fixed held-out set) the policy is
    written to :func:`last_path`; when its evaluation reward is the best so far (ties: the earlier one)
    it is also written to ``output`` (keep-best: ``output`` is the checkpoint to ship). The full state
    goes to :func:`resume_path`."""
    args.check()
    check_final_allocation(args.final_allocation)
    torch.set_num_threads(max(1, args.threads))
    device = resolve_device(args.device)
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    train_set, eval_set = make_instances(args, extra_instances)
    env = UARAEnv(train_set, beta_y=args.beta_y, beta_z=args.beta_z, seed=args.seed,
                  final_allocation=args.final_allocation)
    lrn = Learner.create(args, device, max(i.num_devices for i in train_set))
    run = {"curve": [], "step": 0, "wall_s": 0.0, "best": {"step": 0, "reward": float("-inf")}}
    rpath = resume_path(output)
    if resume:
        if not rpath.is_file():
            raise UaraError(f"--resume: no training state at {rpath}")
        _restore(lrn, rng, run, rpath, device)
    zero_ref = evaluate_policy(lambda o: np.zeros((o.shape[0], ACT_DIM)), eval_set, args)["reward"]

    def checkpoint(step: int, stats: dict[str, float], wall: float) -> None:
        _checkpoint(lrn, args, eval_set, run, step, stats, wall, zero_ref, rng, output, curve_dir, log)

    bar = _progress_bar(progress, args.total_steps, run["step"])
    start_step, wall_before = int(run["step"]), float(run["wall_s"])
    if start_step == 0:
        checkpoint(0, {}, 0.0)  # the untrained policy's score, first point of the curve
    t_start = time.perf_counter()
    obs, _ = env.reset(seed=int(rng.integers(2**31)))
    stats: dict[str, float] = {}
    ep_rewards: list[float] = []
    for step in range(start_step, args.total_steps):
        if step < args.learning_starts:  # act
            action = rng.uniform(-1.0, 1.0, size=(obs.shape[0], ACT_DIM))
        else:
            with torch.no_grad():
                a, _, _ = lrn.actor.get_action(torch.as_tensor(obs, dtype=torch.float32, device=device))
            action = a.cpu().numpy().astype(float)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        lrn.rb.add(obs, action, reward, next_obs, terminated)
        ep_rewards.append(reward)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset(seed=int(rng.integers(2**31)))
        if step >= args.learning_starts and len(lrn.rb) >= args.batch_size:  # learn
            lrn.update(lrn.rb.sample(args.batch_size, rng, device), step, args, stats)
        if bar is not None:
            bar.update(1)
            if step % 50 == 0 and ep_rewards:
                bar.set_postfix(reward=f"{np.mean(ep_rewards[-200:]):.3f}", alpha=f"{lrn.log_alpha.exp().item():.3g}")
        if (step + 1) % args.eval_every == 0 or step + 1 == args.total_steps:
            stats["train_reward"] = float(np.mean(ep_rewards[-args.eval_every:])) if ep_rewards else float("nan")
            checkpoint(step + 1, stats, wall_before + time.perf_counter() - t_start)
    if bar is not None:
        bar.close()
    wall = wall_before + time.perf_counter() - t_start
    best = run["best"]
    return TrainResult(Path(output), last_path(output), int(best["step"]), float(best["reward"]), run["curve"],
                       args.total_steps, wall)


def _progress_bar(enabled: bool, total: int, initial: int) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, desc="masac", unit="step")


def _checkpoint(lrn: Learner, args: MASACArgs, eval_set: Sequence[Instance], run: dict[str, Any], step: int,
                stats: dict[str, float], wall: float, zero_ref: float, rng: np.random.Generator, output: str | Path,
                curve_dir: str | Path | None, log: Callable[[str], None] | None) -> None:
    """Evaluate the greedy policy on the held-out set; write the last policy, the best one when it improved,
    the full training state (resume) and the learning curve."""
    best, curve = run["best"], run["curve"]
    ev = evaluate_policy(lrn.greedy, eval_set, args)
    improved = ev["reward"] > best["reward"]
    if improved:
        best.update(step=step, reward=ev["reward"])
    row = {"step": step, "wall_s": round(wall, 2), "eval_reward": ev["reward"], "zero_action_reward": zero_ref,
           "best_step": best["step"], "alpha": float(lrn.log_alpha.exp().item()),
           **{k: float(v) for k, v in stats.items()}}
    curve.append(row)
    save_policy(last_path(output), lrn.actor, args, {"step": step, "curve_last": row})
    if improved:
        save_policy(output, lrn.actor, args, {"step": step, "curve_last": row, "best": dict(best)})
    rpath = resume_path(output)
    tmp = rpath.with_name(rpath.name + ".tmp")
    torch.save({**lrn.state_dict(), "format": RESUME_FORMAT, "np_rng": json.dumps(rng.bit_generator.state),
                "torch_rng": torch.get_rng_state(), "curve": curve, "step": step, "wall_s": wall,
                "args": json.loads(json.dumps(dataclasses.asdict(args), default=str)), "best": dict(best)}, tmp)
    tmp.replace(rpath)
    if curve_dir is not None:
        write_curve(curve, curve_dir)
    if log:
        log(f"step {step}: eval reward {ev['reward']:.4f} (zero action {zero_ref:.4f}, best {best['reward']:.4f} "
            f"at step {best['step']}), alpha {row['alpha']:.3g}")


def _restore(lrn: "Learner", rng: np.random.Generator, run: dict[str, Any], rpath: Path, device: torch.device) -> None:
    """Load a resume file written by :func:`_checkpoint` as data only (:func:`load_checkpoint_data`:
    no pickled object other than tensors and plain containers is accepted), then restore the learner,
    both random generators and the run record."""
    st = load_checkpoint_data(rpath, "training state")
    if st.get("format") != RESUME_FORMAT:
        raise UaraError(f"--resume: {rpath} is not a {RESUME_FORMAT} training state (written by an older uara? "
                        "start the run again without --resume)")
    try:
        lrn.load_state_dict({k: v.to(device) if isinstance(v, torch.Tensor) and k != "buffer" else v
                             for k, v in st.items()})
        rng.bit_generator.state = json.loads(st["np_rng"])
        torch.set_rng_state(st["torch_rng"])
        run.update(curve=list(st["curve"]), step=int(st["step"]), wall_s=float(st["wall_s"]),
                   best=dict(st.get("best", run["best"])))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UaraError(f"--resume: malformed training state {rpath} ({type(exc).__name__}: {exc})") from None


def write_curve(curve: list[dict[str, float]], out_dir: str | Path) -> tuple[Path, Path | None]:
    """learning_curve.csv (always) and learning_curve.png (when matplotlib is installed)."""
    from uara.io import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keys: list[str] = []
    for row in curve:
        keys += [k for k in row if k not in keys]
    lines = [",".join(keys)] + [",".join("" if row.get(k) is None else f"{row[k]:.6g}" if isinstance(row.get(k), float) else str(row.get(k, "")) for k in keys) for row in curve]
    csv = atomic_write_text(out / "learning_curve.csv", "\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return csv, None
    fig, ax = plt.subplots(figsize=(6, 3.6))
    steps = [r["step"] for r in curve]
    ax.plot(steps, [r["eval_reward"] for r in curve], marker="o", label="MASAC (deterministic)")
    ax.plot(steps, [r["zero_action_reward"] for r in curve], ls="--", label="zero action (exact allocation + TMA moves)")
    bi = max(range(len(curve)), key=lambda k: (curve[k]["eval_reward"], -k))
    ax.plot([steps[bi]], [curve[bi]["eval_reward"]], marker="*", ms=14, ls="", color="C3", label=f"kept (best, step {steps[bi]})")
    if any("train_reward" in r for r in curve):
        ax.plot([r["step"] for r in curve if "train_reward" in r], [r["train_reward"] for r in curve if "train_reward" in r],
                alpha=0.6, label="training (stochastic)")
    ax.set_xlabel("environment steps (slots)")
    ax.set_ylabel("reward -(I-C)/(I_b-C)")
    ax.set_title("TMA-MASAC learning curve (held-out random instances)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    png = out / "learning_curve.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return csv, png
