"""From PSD profiles to the P1 task fields d_i, f_i^MD, f_i^ES.

For device i with task type ``types[i]`` and profile ``profiles[type]``:

1. draw the prompt length P_i and output length n_i from the profile, and an
   acceptance trace (a measured trace index, or a seed for i.i.d./runs);
2. simulate the task once at **nominal speeds** (:class:`NominalSpeeds`: the
   magnitudes of docs/model.md "Calibration") to count drafted tokens D_i,
   verified positions V_i and uplink bits U_i (wasted work included);
3. with the mean context c_i = P_i + n_i / 2:

       f_i^MD = D_i * flops_draft(c_i)      (FLOP, drafting on the phone)
       f_i^ES = V_i * flops_target(c_i)     (FLOP, verification on the server)
       d_i    = U_i                         (bit, everything sent up)

The counts barely depend on the speeds (only work drafted past a block that
is then rejected does); :func:`uara.psd.latency.slot_latency` re-simulates
every task at the speeds of the actual allocation, from the same trace.

GPT2 / GPT2-XL, ~200 output tokens: D ~ 260, f^MD ~ 70 GFLOP (a_i ~ 1 s on a
70 GFLOP/s effective phone), f^ES ~ 1 TFLOP. The uplink volume depends on the
protocol: ``full@4`` (the default, ~201 kbit per draft token, reproducing the
seed paper's Fig. 2 saturation near 50 Mbit/s) gives d_i of tens of Mbit;
``topk:64`` ~2 kbit per token, ``ids`` 16 bit per token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from uara.errors import UaraError
from uara.model.instance import Task
from uara.psd.workload.profiles import Profile, load_profile_set
from uara.psd.simulation.protocols import Protocol
from uara.psd.simulation.simulator import Timing, simulate


@dataclass(frozen=True)
class NominalSpeeds:
    """Speeds used only to count the work of a task (see the module docstring)."""

    device_flops: float = 70e9        # effective phone FLOP/s (docs/model.md, Calibration)
    server_flops: float = 25e12       # effective server FLOP/s for the task's share
    uplink_bps: float = 50e6
    downlink_bps: float = 100e6
    link_latency_s: float = 0.010


def task_trace(profile: Profile, psd: Mapping[str, Any], length: int) -> np.ndarray:
    """The match trace of one task, shape (length,), regenerated from its ``psd`` fields."""
    rng = np.random.default_rng(int(psd["trace_seed"]))
    idx = psd.get("trace_index")
    index = None if idx is None else np.array([int(idx)])
    return profile.acceptance.sample(1, length, rng, index=index)[0]


def sample_tasks(
    profiles: Mapping[str, Profile],
    types: Sequence[str],
    rng: np.random.Generator | int,
    *,
    mode: str | None = None,
    draft_length: int | None = None,
    protocol: str | Protocol | None = None,
    nominal: NominalSpeeds = NominalSpeeds(),
) -> list[Task]:
    """One :class:`uara.model.instance.Task` per entry of ``types``.

    Args:
        profiles: task type -> :class:`Profile` (e.g. ``load_profile_set('gpt2')``).
        types: the task type of each device, length M.
        rng: a numpy Generator or a seed.
        mode, draft_length, protocol: override the profiles' decoding defaults.
        nominal: speeds used to count the work (module docstring).

    Returns:
        M tasks with ``bits`` d_i (bit), ``flops_device`` f_i^MD (FLOP),
        ``flops_server`` f_i^ES (FLOP) and ``psd``: the fields the simulator
        needs to replay the task (profile name, output_tokens, prompt_tokens,
        mode, draft_length, pre_verify, protocol, vocab, alpha, trace_seed,
        trace_index, draft/target FLOP per token, bits per draft token,
        and the nominal counts drafted_tokens / verified_positions / rounds).
    """
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    types = list(types)
    missing = sorted(set(types) - set(profiles))
    if missing:
        raise UaraError(f"types: no profile for task type(s) {missing} (have {sorted(profiles)})")
    m = len(types)
    tasks: list[Task | None] = [None] * m
    seeds = rng.integers(0, 2**63 - 1, size=m)
    for ttype in sorted(set(types)):
        prof = profiles[ttype]
        idx = np.array([i for i, t in enumerate(types) if t == ttype])
        dec = prof.decoding(mode=mode, draft_length=draft_length, protocol=protocol)
        n_out = prof.output_tokens.sample(rng, idx.size)
        n_prompt = prof.prompt_tokens.sample(rng, idx.size)
        ntr = len(prof.acceptance.trace_list)
        tr_index = rng.integers(ntr, size=idx.size) if ntr else None
        length = int(n_out.max()) + dec.max_block + 1
        psds = []
        match = np.empty((idx.size, length), dtype=bool)
        for k, i in enumerate(idx):
            psd = {"profile": prof.name, "trace_seed": int(seeds[i]),
                   "trace_index": None if tr_index is None else int(tr_index[k])}
            match[k] = task_trace(prof, psd, length)
            psds.append(psd)
        ctx = prof.context_tokens(n_prompt, n_out)
        f_d = prof.draft.flops_per_token(ctx)
        f_t = prof.target.flops_per_token(ctx)
        res = simulate(n_out, match, Timing(
            draft_s_per_token=f_d / nominal.device_flops, verify_s_per_position=f_t / nominal.server_flops,
            uplink_bps=nominal.uplink_bps, downlink_bps=nominal.downlink_bps,
            link_latency_s=nominal.link_latency_s), dec)
        for k, i in enumerate(idx):
            psd = psds[k]
            psd.update({
                "output_tokens": int(n_out[k]), "prompt_tokens": int(n_prompt[k]),
                "mode": dec.mode, "draft_length": dec.draft_length, "pre_verify": dec.pre_verify,
                "stream_uplink": dec.stream_uplink,
                "protocol": dec.protocol.spec, "vocab": dec.vocab, "alpha": prof.acceptance.alpha,
                "draft_flops_per_token": float(f_d[k]), "target_flops_per_token": float(f_t[k]),
                "bits_per_draft_token": float(dec.protocol.token_bits(dec.vocab)),
                "drafted_tokens": int(res.drafted_tokens[k]), "verified_positions": int(res.verified_positions[k]),
                "rounds": int(res.rounds[k]),
            })
            tasks[i] = Task(
                type=ttype,
                bits=float(res.uplink_bits[k]),
                flops_device=float(res.drafted_tokens[k] * f_d[k]),
                flops_server=float(res.verified_positions[k] * f_t[k]),
                psd=psd,
            )
    return tasks  # type: ignore[return-value]


@dataclass(frozen=True)
class ProfileTaskSampler:
    """``sampler(rng, n) -> list[Task]`` drawing task types with ``weights`` and
    their fields from a profile set (the ``psd`` sampler of :mod:`uara.scenario.task_sources`).

    Options (JSON): ``profiles`` (a shipped set prefix such as ``gpt2`` or
    ``smollm2``, or a list of names/paths), ``weights`` (task type -> weight;
    default equal), ``mode``, ``draft_length``, ``protocol`` (overrides).
    """

    profiles: str | tuple[str, ...] = "gpt2"
    weights: tuple[tuple[str, float], ...] | None = None
    mode: str | None = None
    draft_length: int | None = None
    protocol: str | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "ProfileTaskSampler":
        opts = dict(options)
        opts.pop("model", None)
        unknown = sorted(set(opts) - set(cls.__dataclass_fields__))
        if unknown:
            raise UaraError(f"task option {unknown[0]!r} is unknown; known: {', '.join(cls.__dataclass_fields__)}")
        if isinstance(opts.get("profiles"), list):
            opts["profiles"] = tuple(opts["profiles"])
        if isinstance(opts.get("weights"), Mapping):
            opts["weights"] = tuple((str(k), float(v)) for k, v in opts["weights"].items())
        out = cls(**opts)
        out.profile_set()  # fail early on a bad name
        return out

    def profile_set(self) -> dict[str, Profile]:
        return load_profile_set(self.profiles if isinstance(self.profiles, str) else list(self.profiles))

    def describe(self) -> dict[str, Any]:
        name = self.profiles if isinstance(self.profiles, str) else ",".join(self.profiles)
        return {"model": f"psd:{name}", "profiles": self.profiles if isinstance(self.profiles, str) else list(self.profiles),
                "weights": dict(self.weights) if self.weights else None, "mode": self.mode,
                "draft_length": self.draft_length, "protocol": self.protocol}

    def __call__(self, rng: np.random.Generator, n: int) -> list[Task]:
        profs = self.profile_set()
        names = sorted(profs)
        w = dict(self.weights) if self.weights else {k: 1.0 for k in names}
        bad = sorted(set(w) - set(names))
        if bad:
            raise UaraError(f"task option weights: no profile for task type {bad[0]!r} (have {names})")
        p = np.array([max(float(w.get(k, 0.0)), 0.0) for k in names])
        if p.sum() <= 0:
            raise UaraError("task option weights: need a positive total")
        kinds = rng.choice(len(names), size=n, p=p / p.sum())
        return sample_tasks(profs, [names[k] for k in kinds], rng, mode=self.mode,
                            draft_length=self.draft_length, protocol=self.protocol)
