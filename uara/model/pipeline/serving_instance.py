"""Instances of the pipelined serving problem: the ``PIPELINE_INSTANCE_FORMAT`` format.

The second problem family of uara (docs/pipeline.md), after Zhu et al., "Efficient LLM Inference
over Heterogeneous Edge Networks with Speculative Decoding" (arXiv 2510.11331): K users upload
prompts to a small base station (SBS) whose edge server runs the draft model; a macro base
station (MBS) runs the target model and verifies; a wired fronthaul joins them.

=====================================  ============  ===========================================
JSON field                             symbol        unit
=====================================  ============  ===========================================
sbs.flops, mbs.flops                   F_S, F_M      FLOP/s (compute roof of a forward pass)
sbs.memory_bandwidth_bytes_per_s       B_S, B_M      byte/s (weights are read once per pass)
sbs.pass_overhead_s                    o_S, o_M      s per forward pass (launch, scheduling)
mbs.memory_bytes                       Mem_M         byte (optional): W_t + KV of a batch must fit
models.target.kv_bytes_per_token       kv_t          byte per context token (optional; 0: not counted)
models.draft.weight_bytes              W_d, W_t      byte
models.draft.flops_per_token           a_d, a_t      FLOP per position at context 0
models.draft.flops_per_context_token   b_d, b_t      FLOP per position per context token
link.fronthaul_bps                     R_f           bit/s (SBS <-> MBS, wired)
link.fronthaul_latency_s               l_f           s, one way
link.downlink_latency_s                l_d           s, the finished answer back to the user
link.token_bits, link.header_bits      b, h          bit per token id, bit per message
users[k].rate_bps                      r_k           bit/s, uplink rate over the whole SBS band
users[k].prompt_tokens                 I_k           tokens
users[k].output_tokens                 O_k           tokens
users[k].alpha                         alpha_k       per-token acceptance probability, [0, 1]
speculation_lengths                    G             candidate draft lengths (0 = autoregressive)
objective                                            "sum" (sum of completion times) or "makespan"
=====================================  ============  ===========================================

Loading validates every value and raises :class:`uara.errors.InstanceError` naming its JSON path,
exactly like P1's format (``users[3].alpha: 1.2 is outside [0, 1]``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from uara.errors import InstanceError
from uara.io import atomic_write_json, dumps_json
from uara.model.shared.validation import (check_in_range, check_list, check_number, check_object, check_string,
                                         load_instance_file)

from uara.model.shared.formats import PIPELINE_INSTANCE_FORMAT as PIPELINE_FORMAT  # noqa: E402
OBJECTIVES = ("sum", "makespan")
MAX_SPECULATION_LENGTH = 64


#: Plausible ranges of the physical fields, (low, high) inclusive, with units: a value outside is a typo
#: or a unit slip, and would make the latency model overflow, vanish or loop for ever (10^12 output
#: tokens are 10^11 verification rounds); refused naming the field.
RANGES: dict[str, tuple[float, float, str]] = {
    "flops": (1e9, 1e19, "FLOP/s"),
    "memory_bandwidth_bytes_per_s": (1e8, 1e15, "B/s"),
    "pass_overhead_s": (0.0, 10.0, "s"),
    "weight_bytes": (1e3, 1e14, "B"),
    "memory_bytes": (1e6, 1e15, "B"),
    "kv_bytes_per_token": (0.0, 1e9, "B"),
    "flops_per_token": (1e3, 1e16, "FLOP"),
    "flops_per_context_token": (0.0, 1e13, "FLOP"),
    "fronthaul_bps": (1e3, 1e13, "bit/s"),
    "latency_s": (0.0, 10.0, "s"),
    "token_bits": (1, 64, "bit"),
    "header_bits": (0.0, 1e9, "bit"),
    "bandwidth_hz": (1e3, 1e11, "Hz"),
    "rate_bps": (1e3, 1e12, "bit/s"),
    "prompt_tokens": (1, 10_000_000, "tokens"),
    "output_tokens": (1, 1_000_000, "tokens"),
    "speculation_length": (0, 1_000_000, "tokens"),
}


def _positive(value: Any, path: str, kind: str) -> float:
    """A number within ``RANGES[kind]``."""
    return check_in_range(check_number(value, path), path, *RANGES[kind])


def _count(value: Any, path: str, kind: str) -> int:
    """An integer within ``RANGES[kind]``."""
    v = check_number(value, path)
    lo, hi, unit = RANGES[kind]
    if v != int(v) or not lo <= v <= hi:
        raise InstanceError(path, f"expected an integer in [{lo:g}, {hi:g}] {unit}, got {value!r}")
    return int(v)


@dataclass(frozen=True)
class ComputeNode:
    """A server that runs forward passes: pass time = o + max(W / B, FLOPs / F) (roofline)."""

    label: str
    flops: float
    memory_bandwidth_bytes_per_s: float
    pass_overhead_s: float = 0.0
    memory_bytes: float | None = None  # device memory (B): the weights plus a batch's KV cache must fit; None: unbounded

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        if d["memory_bytes"] is None:
            del d["memory_bytes"]  # files written before the field existed keep their bytes
        return d

    @classmethod
    def from_dict(cls, raw: Any, path: str) -> "ComputeNode":
        check_object(raw, path, [f.name for f in fields(cls)], ("flops", "memory_bandwidth_bytes_per_s"))
        return cls(label=check_string(raw.get("label", path), f"{path}.label"),
                   flops=_positive(raw["flops"], f"{path}.flops", "flops"),
                   memory_bandwidth_bytes_per_s=_positive(raw["memory_bandwidth_bytes_per_s"],
                                                          f"{path}.memory_bandwidth_bytes_per_s",
                                                          "memory_bandwidth_bytes_per_s"),
                   pass_overhead_s=_positive(raw.get("pass_overhead_s", 0.0), f"{path}.pass_overhead_s",
                                             "pass_overhead_s"),
                   memory_bytes=None if raw.get("memory_bytes") is None
                   else _positive(raw["memory_bytes"], f"{path}.memory_bytes", "memory_bytes"))


@dataclass(frozen=True)
class ModelCost:
    """What a forward pass of a model costs: FLOP per position a + b * ctx (Kaplan et al. 2020), weights W bytes."""

    name: str
    weight_bytes: float
    flops_per_token: float
    flops_per_context_token: float = 0.0
    kv_bytes_per_token: float = 0.0  # KV cache per context token (B): 2 layers d_model bytes; 0 = not counted

    def flops(self, context_tokens: Any) -> np.ndarray:
        """FLOP per position at context ``context_tokens`` (array ok): a + b ctx."""
        return self.flops_per_token + self.flops_per_context_token * np.asarray(context_tokens, dtype=float)

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        if not d["kv_bytes_per_token"]:
            del d["kv_bytes_per_token"]
        return d

    @classmethod
    def from_dict(cls, raw: Any, path: str) -> "ModelCost":
        check_object(raw, path, [f.name for f in fields(cls)], ("weight_bytes", "flops_per_token"))
        return cls(name=check_string(raw.get("name", path), f"{path}.name"),
                   weight_bytes=_positive(raw["weight_bytes"], f"{path}.weight_bytes", "weight_bytes"),
                   flops_per_token=_positive(raw["flops_per_token"], f"{path}.flops_per_token", "flops_per_token"),
                   flops_per_context_token=_positive(raw.get("flops_per_context_token", 0.0),
                                                     f"{path}.flops_per_context_token", "flops_per_context_token"),
                   kv_bytes_per_token=_positive(raw.get("kv_bytes_per_token", 0.0), f"{path}.kv_bytes_per_token",
                                                "kv_bytes_per_token"))


@dataclass(frozen=True)
class ServingLink:
    """The wires and messages: fronthaul rate and latency, the answer's way back, message sizes."""

    fronthaul_bps: float
    fronthaul_latency_s: float
    downlink_latency_s: float
    token_bits: int = 16
    header_bits: float = 0.0
    bandwidth_hz: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        if d["bandwidth_hz"] is None:
            del d["bandwidth_hz"]
        return d

    @classmethod
    def from_dict(cls, raw: Any, path: str) -> "ServingLink":
        check_object(raw, path, [f.name for f in fields(cls)], ("fronthaul_bps", "fronthaul_latency_s", "downlink_latency_s"))
        bw = raw.get("bandwidth_hz")
        return cls(fronthaul_bps=_positive(raw["fronthaul_bps"], f"{path}.fronthaul_bps", "fronthaul_bps"),
                   fronthaul_latency_s=_positive(raw["fronthaul_latency_s"], f"{path}.fronthaul_latency_s", "latency_s"),
                   downlink_latency_s=_positive(raw["downlink_latency_s"], f"{path}.downlink_latency_s", "latency_s"),
                   token_bits=_count(raw.get("token_bits", 16), f"{path}.token_bits", "token_bits"),
                   header_bits=_positive(raw.get("header_bits", 0.0), f"{path}.header_bits", "header_bits"),
                   bandwidth_hz=None if bw is None else _positive(bw, f"{path}.bandwidth_hz", "bandwidth_hz"))


@dataclass(frozen=True)
class ServingUser:
    """One user's request: its uplink, prompt, expected output and acceptance."""

    rate_bps: float
    prompt_tokens: int
    output_tokens: int
    alpha: float
    task_type: str = "chat"

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, raw: Any, path: str) -> "ServingUser":
        check_object(raw, path, [f.name for f in fields(cls)], ("rate_bps", "prompt_tokens", "output_tokens", "alpha"))
        alpha = check_number(raw["alpha"], f"{path}.alpha")
        if not 0.0 <= alpha <= 1.0:
            raise InstanceError(f"{path}.alpha", f"{alpha!r} is outside [0, 1]")
        return cls(rate_bps=_positive(raw["rate_bps"], f"{path}.rate_bps", "rate_bps"),
                   prompt_tokens=_count(raw["prompt_tokens"], f"{path}.prompt_tokens", "prompt_tokens"),
                   output_tokens=_count(raw["output_tokens"], f"{path}.output_tokens", "output_tokens"),
                   alpha=alpha, task_type=check_string(raw.get("task_type", "chat"), f"{path}.task_type"))


@dataclass(frozen=True)
class PipelineInstance:
    """A pipelined serving problem (module docstring); arrays over users via the properties."""

    name: str
    sbs: ComputeNode
    mbs: ComputeNode
    draft: ModelCost
    target: ModelCost
    link: ServingLink
    users: tuple[ServingUser, ...]
    speculation_lengths: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8)
    objective: str = "sum"
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def num_users(self) -> int:
        return len(self.users)

    def _array(self, name: str) -> np.ndarray:
        return np.array([getattr(u, name) for u in self.users], dtype=float)

    @property
    def rate_bps(self) -> np.ndarray:
        """(K,) r_k, bit/s."""
        return self._array("rate_bps")

    @property
    def prompt_tokens(self) -> np.ndarray:
        return self._array("prompt_tokens")

    @property
    def output_tokens(self) -> np.ndarray:
        return self._array("output_tokens")

    @property
    def alpha(self) -> np.ndarray:
        return self._array("alpha")

    @property
    def upload_bits(self) -> np.ndarray:
        """(K,) d_k = b I_k + h, bit: user k's prompt as sent."""
        return self.link.token_bits * self.prompt_tokens + self.link.header_bits

    @property
    def upload_s_full_band(self) -> np.ndarray:
        """(K,) d_k / r_k, s: user k's upload with the whole band (the band-time the prompt needs)."""
        return self.upload_bits / self.rate_bps

    def to_dict(self) -> dict[str, Any]:
        """The ``PIPELINE_INSTANCE_FORMAT`` JSON object."""
        return {"format": PIPELINE_FORMAT, "name": self.name, "objective": self.objective,
                "speculation_lengths": list(self.speculation_lengths),
                "sbs": self.sbs.to_dict(), "mbs": self.mbs.to_dict(),
                "models": {"draft": self.draft.to_dict(), "target": self.target.to_dict()},
                "link": self.link.to_dict(), "users": [u.to_dict() for u in self.users],
                "provenance": dict(self.provenance)}

    def save(self, path: str | Path) -> Path:
        """Write the instance as JSON, atomically."""
        return atomic_write_json(path, self.to_dict(), indent=None)

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of everything the problem reads (provenance excluded)."""
        d = self.to_dict()
        d.pop("provenance")
        d.pop("name")
        return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()

    @classmethod
    def load(cls, path: str | Path) -> "PipelineInstance":
        """Read and validate an instance file."""
        return load_instance_file(path, cls.from_dict)

    @classmethod
    def from_dict(cls, data: Any) -> "PipelineInstance":
        """Validate a ``PIPELINE_INSTANCE_FORMAT`` object; the first bad value raises naming its path."""
        if not isinstance(data, Mapping):
            raise InstanceError("", f"expected a JSON object, got {type(data).__name__}")
        if data.get("format") != PIPELINE_FORMAT:
            raise InstanceError("format", f"expected {PIPELINE_FORMAT!r}, got {data.get('format')!r}")
        check_object(data, "", ["format", "name", "objective", "speculation_lengths", "sbs", "mbs", "models", "link",
                                "users", "provenance"], ("sbs", "mbs", "models", "link", "users"))
        models = check_object(data["models"], "models", ["draft", "target"], ("draft", "target"),
                              what="an object with 'draft' and 'target'")
        users = check_list(data["users"], "users", min_len=1)
        objective = data.get("objective", "sum")
        if objective not in OBJECTIVES:
            raise InstanceError("objective", f"expected one of {', '.join(OBJECTIVES)}, got {objective!r}")
        lengths = check_list(data.get("speculation_lengths", list(range(9))), "speculation_lengths", min_len=1)
        g = tuple(_count(v, f"speculation_lengths[{i}]", "speculation_length") for i, v in enumerate(lengths))
        for i, v in enumerate(g):
            if v > MAX_SPECULATION_LENGTH:
                raise InstanceError(f"speculation_lengths[{i}]", f"{v} exceeds {MAX_SPECULATION_LENGTH}")
        if len(set(g)) != len(g):
            raise InstanceError("speculation_lengths", f"repeated values in {list(g)}")
        prov = data.get("provenance", {})
        if not isinstance(prov, Mapping):
            raise InstanceError("provenance", "expected an object")
        return cls(name=check_string(data.get("name", "pipeline"), "name"),
                   sbs=ComputeNode.from_dict(data["sbs"], "sbs"), mbs=ComputeNode.from_dict(data["mbs"], "mbs"),
                   draft=ModelCost.from_dict(models["draft"], "models.draft"),
                   target=ModelCost.from_dict(models["target"], "models.target"),
                   link=ServingLink.from_dict(data["link"], "link"),
                   users=tuple(ServingUser.from_dict(u, f"users[{k}]") for k, u in enumerate(users)),
                   speculation_lengths=tuple(sorted(g)), objective=objective, provenance=dict(prov))


def dumps_pipeline_instance(instance: PipelineInstance) -> str:
    """The exact text :meth:`PipelineInstance.save` writes."""
    return dumps_json(instance.to_dict(), indent=None)
