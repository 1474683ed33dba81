"""Build instances of the pipelined serving problem (``uara build --problem pipeline``).

    inst = build_pipeline_instance(PipelineBuildSpec(users=20, channel="sionna-umi", seed=1))

One SBS (its antenna placed by the channel provider's layout, like a P1 server) and K users on
the provider's street/area positions within ``cell_radius_m`` (150 m: a small cell) of it; the uplink rate of user k over the whole SBS band is the
credible scenario's link abstraction (docs/model.md): r_k = W min(0.6 log2(1 + SNR_k), 7.4) with a
5 dB noise figure, transmit power from the device catalog. Users below -6 dB SNR are redrawn (the
SBS serves its coverage area). Prompt and output lengths and acceptance come from the PSD profiles
(``--profiles gpt2``: GPT2 drafts on the SBS, GPT2-XL verifies on the MBS, as in P1); hardware from
the catalog (SBS an RTX 2080, MBS an RTX 4090 by default: compute roof = the catalog's effective
FLOP/s, memory bandwidth from its derivation). Every choice is in the provenance, which rebuilds
the file bit for bit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np

from uara.errors import UaraError
from uara.model.shared.physics import COVERAGE_SNR_DB, in_coverage, link_rate
from uara.model.pipeline.serving_instance import (OBJECTIVES, RANGES, ComputeNode, ModelCost, PipelineInstance, ServingLink, ServingUser)
from uara.psd.workload.flops import ModelShape
from uara.psd.workload.profiles import load_profile_set
from uara.scenario.channels import get_channel
from uara.scenario.hardware import load_catalog



#: The plausible range of each numeric build field (units in the names).
#: The fields that go into the instance as they are take the loader's ranges (serving_instance.RANGES).
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    **{key: RANGES[kind][:2] for key, kind in (("bandwidth_hz", "bandwidth_hz"), ("fronthaul_bps", "fronthaul_bps"),
                                               ("fronthaul_latency_s", "latency_s"), ("downlink_latency_s", "latency_s"),
                                               ("header_bits", "header_bits"), ("pass_overhead_s", "pass_overhead_s"))},
    "noise_dbm_per_hz": (-220.0, -100.0), "noise_figure_db": (0.0, 30.0), "shannon_attenuation": (1e-3, 1.0),
    "max_spectral_efficiency": (0.0, 30.0), "bytes_per_parameter": (0.1, 8.0), "cell_radius_m": (1.0, 1e5),
}


@dataclass(frozen=True)
class PipelineBuildSpec:
    """Everything a pipeline build depends on (units in the names)."""

    users: int = 20
    channel: str = "free-space"
    scene: str | None = None
    seed: int = 0
    channel_options: Mapping[str, Any] = field(default_factory=dict)
    catalog: str | None = None
    profiles: str = "gpt2"
    sbs_kind: str = "rtx2080"
    mbs_kind: str = "rtx4090"
    bandwidth_hz: float = 20e6
    noise_dbm_per_hz: float = -174.0
    noise_figure_db: float = 5.0
    shannon_attenuation: float = 0.6
    max_spectral_efficiency: float = 7.4
    fronthaul_bps: float = 1e9
    fronthaul_latency_s: float = 0.001
    downlink_latency_s: float = 0.010
    header_bits: float = 320.0
    pass_overhead_s: float = 0.002
    bytes_per_parameter: float = 2.0
    speculation_lengths: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8)
    objective: str = "sum"
    cell_radius_m: float = 150.0
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channel_options"] = dict(self.channel_options)
        d["speculation_lengths"] = list(self.speculation_lengths)
        return d

    def validate(self) -> "PipelineBuildSpec":
        """Raise a one-line :class:`UaraError` naming the first bad field; return self."""
        for key, lo, hi in (("users", 1, 100_000), ("seed", 0, 2**63 - 1)):
            val = getattr(self, key)
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or not lo <= val <= hi:
                raise UaraError(f"{key}: expected an integer in [{lo}, {hi:,}], got {val!r}")
        for key, (lo, hi) in NUMBER_RANGES.items():
            val = getattr(self, key)
            if isinstance(val, bool) or not isinstance(val, (int, float)) or not np.isfinite(val) or not lo <= val <= hi:
                raise UaraError(f"{key}: expected a number in [{lo:g}, {hi:g}], got {val!r}")
        if self.objective not in OBJECTIVES:
            raise UaraError(f"objective: expected one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        lengths = list(self.speculation_lengths)
        if not lengths or any(isinstance(g, bool) or not isinstance(g, (int, np.integer)) or not 0 <= g <= 64
                              for g in lengths):
            raise UaraError(f"speculation_lengths: expected integers in [0, 64], got {lengths!r}")
        if not isinstance(self.channel_options, Mapping):
            raise UaraError(f"channel_options: expected a mapping of options, got {self.channel_options!r}")
        return self

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PipelineBuildSpec":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise UaraError(f"provenance.build.{unknown[0]}: unknown field of a pipeline build")
        d = dict(d)
        if "speculation_lengths" in d:
            d["speculation_lengths"] = tuple(d["speculation_lengths"])
        return cls(**d)


def model_cost(shape: ModelShape, bytes_per_parameter: float) -> ModelCost:
    """FLOP per position 2 N_ne + 2 d V + 4 L d ctx (uara.psd.workload.flops); weights n_params * bytes; KV
    2 L d bytes per context token (K and V of every layer)."""
    n_params = shape.n_params or (shape.n_non_embedding + shape.vocab * shape.d_model)
    return ModelCost(name=shape.name, weight_bytes=float(n_params * bytes_per_parameter),
                     flops_per_token=float(2.0 * shape.n_non_embedding + 2.0 * shape.d_model * shape.vocab),
                     flops_per_context_token=float(4.0 * shape.n_layers * shape.d_model),
                     kv_bytes_per_token=float(2.0 * shape.n_layers * shape.d_model * bytes_per_parameter))


def _node(catalog: Any, kind: str, overhead_s: float) -> ComputeNode:
    if kind not in catalog.servers:
        raise UaraError(f"server kind {kind!r} is not in the catalog; known: {', '.join(catalog.servers)}")
    raw = catalog.raw["servers"][kind]
    bw = raw.get("derivation", {}).get("memory_bandwidth_bytes_per_s")
    if not bw:
        raise UaraError(f"catalog.servers.{kind}.derivation.memory_bandwidth_bytes_per_s: needed by the pipeline model")
    from uara.model.shared.server_model import server_kind_hardware

    memory = server_kind_hardware().get(kind, {}).get("memory_bytes")
    return ComputeNode(label=catalog.servers[kind].label or kind, flops=float(catalog.servers[kind].flops),
                       memory_bandwidth_bytes_per_s=float(bw), pass_overhead_s=overhead_s,
                       memory_bytes=None if memory is None else float(memory))


def _positions(spec: PipelineBuildSpec, provider: Any, rng: np.random.Generator,
               tx_dbm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The SBS position, K user positions in coverage and their SNR: a user below the coverage SNR is
    moved to a new position (and its channel drawn anew, seed + attempt), up to 50 times."""
    layout = provider.layout()
    sbs = np.round(layout.sample_servers(1, rng), 2)
    k = spec.users

    def draw(n: int) -> np.ndarray:
        centers = np.repeat(sbs, n, axis=0)
        return np.round(layout.sample_devices(n, rng, centers=centers, radius_m=spec.cell_radius_m, servers=sbs), 2)

    pos = draw(k)
    noise_w = 10 ** ((spec.noise_dbm_per_hz + spec.noise_figure_db - 30) / 10) * spec.bandwidth_hz
    snr = np.zeros(k)
    todo = np.arange(k)
    redraws = 0
    for attempt in range(51):
        gain = provider(sbs, pos[todo], seed=spec.seed + attempt).gain_db[:, 0]
        snr[todo] = 10 ** ((tx_dbm[todo] - 30) / 10) * 10 ** (gain / 10) / noise_w
        out = todo[~in_coverage(snr[todo])]
        if out.size == 0:
            return sbs, pos, snr, redraws
        if attempt == 50:
            raise UaraError(f"{out.size} users stay below {COVERAGE_SNR_DB} dB SNR after 50 redraws; "
                            "use a smaller --channel-option or another channel")
        redraws += int(out.size)
        pos[out] = draw(out.size)
        todo = out
    raise AssertionError("unreachable")


def build_pipeline_instance(spec: PipelineBuildSpec) -> PipelineInstance:
    """The instance ``spec`` describes (module docstring); seeded: the same spec gives the same file."""
    spec.validate()
    ch_opts = dict(spec.channel_options)
    if spec.scene is not None:
        ch_opts["scene"] = spec.scene
    provider = get_channel(spec.channel, **ch_opts)
    catalog = load_catalog(spec.catalog)
    profiles = load_profile_set(spec.profiles)
    rng_hw, rng_pos, rng_task = (np.random.default_rng([spec.seed, s]) for s in (1, 2, 3))
    devices = catalog.draw_devices(spec.users, rng_hw)
    tx = np.array([d.tx_power_dbm for d in devices])
    sbs_pos, pos, snr, redraws = _positions(spec, provider, rng_pos, tx)
    rate = link_rate(spec.bandwidth_hz, snr, spec.shannon_attenuation, spec.max_spectral_efficiency)
    types = sorted(profiles)
    kinds = rng_task.choice(len(types), size=spec.users)
    users = []
    for k in range(spec.users):
        prof = profiles[types[kinds[k]]]
        users.append(ServingUser(rate_bps=float(rate[k]), prompt_tokens=int(prof.prompt_tokens.sample(rng_task, 1)[0]),
                                 output_tokens=int(prof.output_tokens.sample(rng_task, 1)[0]),
                                 alpha=round(float(prof.acceptance.alpha), 6), task_type=prof.task_type))
    first = profiles[types[0]]
    provenance = {"build": spec.to_dict(), "channel": provider.label, "channel_versions": provider.versions(),
                  "catalog": {"source": catalog.source, "sha256": catalog.sha256},
                  "profiles": {t: p.name for t, p in profiles.items()},
                  "sbs_position_m": sbs_pos[0].tolist(), "user_positions_m": pos.tolist(),
                  "snr_db": np.round(10 * np.log10(snr), 3).tolist(), "coverage_redraws": redraws}
    token_bits = int(np.ceil(np.log2(first.vocab)))
    inst = PipelineInstance(
        name=spec.name or f"pipeline_k{spec.users}_{spec.channel}_s{spec.seed}",
        sbs=_node(catalog, spec.sbs_kind, spec.pass_overhead_s), mbs=_node(catalog, spec.mbs_kind, spec.pass_overhead_s),
        draft=model_cost(first.draft, spec.bytes_per_parameter), target=model_cost(first.target, spec.bytes_per_parameter),
        link=ServingLink(fronthaul_bps=spec.fronthaul_bps, fronthaul_latency_s=spec.fronthaul_latency_s,
                         downlink_latency_s=spec.downlink_latency_s, token_bits=token_bits,
                         header_bits=spec.header_bits, bandwidth_hz=spec.bandwidth_hz),
        users=tuple(users), speculation_lengths=tuple(sorted(set(spec.speculation_lengths))),
        objective=spec.objective, provenance=provenance)
    return PipelineInstance.from_dict(inst.to_dict())  # the loader's range checks hold for what is built


def random_pipeline_instance(users: int, seed: int = 0, **changes: Any) -> PipelineInstance:
    """A small synthetic instance for tests and examples: free-space channel, default hardware."""
    return build_pipeline_instance(PipelineBuildSpec(users=users, seed=seed, **changes))
