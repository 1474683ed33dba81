"""How a verification server spends its time: one server model for both problem families.

Two models (docs/server.md explains both, with sources):

``reserved`` -- the paper's accounting (Koh & Yang, arXiv 2511.01695, D^ES of eq. 3): device i owns a
fixed share z_ij of server j's FLOP/s for its whole task and verifies alone on it,

    t_verify = (m + 1) f_t / (z_ij F_j) + t_call,

whether or not the other devices are busy. P1's objective is defined with it.

``batched`` -- what serving engines do (continuous batching: Orca, OSDI 2022; vLLM): the server runs
forward passes back to back while any request waits, each pass taking every waiting request it can
admit. A pass over a batch B costs (roofline; SERVING.md; Williams et al., CACM 2009)

    t_pass(B) = o + max( (W + kv_b * sum_{i in B} c_i) / B_mem,  sum_{i in B} (m_i + 1) f_t,i / F )    s

with o the fixed per-pass overhead (launches, scheduling, sampling), W the target's weight bytes, kv_b its
KV-cache bytes per token, c_i request i's context (prompt + committed tokens + the m_i + 1 verified
positions), B_mem the memory bandwidth, f_t,i FLOP per verified position and F the effective compute roof
(FLOP/s: peak times an efficiency, the catalog's ``flops``). Admission (KV memory):

    kv_b * sum_{i in B} c_i  <=  memory - W,     |B| <= max_batch.

No share z is reserved: under ``batched`` the compute shares of a decision are not used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from uara.errors import UaraError
from uara.model.shared.physics import roofline_pass_s

#: The server models, in the order the docs give them.
SERVER_MODELS = ("reserved", "batched")

#: Bytes per value of the target's weights and KV cache (fp16 serving).
FP16_BYTES = 2

#: Defaults of the batched server when the catalog does not say otherwise (docs/server.md, "Parameters").
DEFAULT_PASS_OVERHEAD_S = 0.004
DEFAULT_MAX_BATCH = 256


#: The batched-server fields a server record may carry (else its kind's entry below), with their plausible
#: ranges (low, high, unit).
SERVER_HARDWARE_KEYS = {"memory_bytes": (1e6, 1e15, "B"), "memory_bandwidth_bytes_per_s": (1e8, 1e15, "B/s"),
                        "pass_overhead_s": (0.0, 10.0, "s")}

#: Memory, memory bandwidth and pass overhead of the catalog's server kinds (:data:`uara.model.shared.formats.SERVER_HARDWARE_FORMAT`).
SERVER_HARDWARE_FILE = Path(__file__).resolve().parent / "data" / "server_hardware.json"


@lru_cache(maxsize=1)
def server_kind_hardware() -> dict[str, dict[str, float]]:
    """kind -> {memory_bytes, memory_bandwidth_bytes_per_s, pass_overhead_s} of the built-in server kinds."""
    return {k: dict(v) for k, v in json.loads(SERVER_HARDWARE_FILE.read_text())["servers"].items()}


def check_server_model(name: Any, where: str = "server_model") -> str:
    """``name`` if it is a server model, else a one-line error naming ``where``."""
    if name not in SERVER_MODELS:
        raise UaraError(f"{where}: unknown server model {name!r}; choose one of: {', '.join(SERVER_MODELS)}")
    return str(name)


@dataclass(frozen=True)
class ServerHardware:
    """The batched-server parameters of each of E servers, arrays of shape (E,).

    Attributes:
        flops: F, effective compute roof (FLOP/s; the catalog's peak x utilisation).
        memory_bandwidth_bytes_per_s: B_mem (B/s).
        memory_bytes: device memory (B); minus the weights it bounds the KV cache.
        pass_overhead_s: o, fixed time of every forward pass (s).
        max_batch: most requests in one pass.
    """

    flops: np.ndarray
    memory_bandwidth_bytes_per_s: np.ndarray
    memory_bytes: np.ndarray
    pass_overhead_s: np.ndarray
    max_batch: int = DEFAULT_MAX_BATCH

    #: the per-server array fields, in constructor order
    ARRAYS: ClassVar[tuple[str, ...]] = ("flops", "memory_bandwidth_bytes_per_s", "memory_bytes", "pass_overhead_s")

    def take(self, index: np.ndarray) -> "ServerHardware":
        """The servers ``index`` (repeats allowed): e.g. one copy per slot, or one virtual server per device."""
        return ServerHardware(*(getattr(self, f)[np.asarray(index, dtype=np.int64)] for f in self.ARRAYS),
                              max_batch=self.max_batch)

    def __post_init__(self) -> None:
        for name in self.ARRAYS:
            v = np.atleast_1d(np.asarray(getattr(self, name), dtype=float))
            if np.isnan(v).any() or (v < 0).any() or (name != "pass_overhead_s" and (v <= 0).any()):
                raise UaraError(f"server hardware {name}: expected positive values (overhead >= 0), got {v.tolist()}")
            object.__setattr__(self, name, v)
        if int(self.max_batch) < 1:
            raise UaraError(f"server hardware max_batch: expected >= 1, got {self.max_batch}")

    @property
    def size(self) -> int:
        return int(self.flops.size)


@dataclass(frozen=True)
class TargetCost:
    """What one verification pass of the target model moves and computes (per server or per request).

    Attributes:
        weight_bytes: W (B), read once per pass.
        kv_bytes_per_token: kv_b = 2 layers d_model bytes-per-value (B per context token).
    """

    weight_bytes: float
    kv_bytes_per_token: float

    @classmethod
    def from_shape(cls, n_params: float, n_layers: int, d_model: int, bytes_per_value: int = FP16_BYTES) -> "TargetCost":
        """W = params x bytes; kv_b = 2 (K and V) x layers x d_model x bytes (GPT2-XL fp16: 307,200 B)."""
        return cls(float(n_params) * bytes_per_value, 2.0 * n_layers * d_model * bytes_per_value)


def kv_capacity_tokens(hardware: ServerHardware, cost: TargetCost) -> np.ndarray:
    """(memory - W) / kv_b: context tokens the KV cache of each server holds (<= 0: the weights do not fit);
    ``cost`` may hold one value or one per server."""
    return (hardware.memory_bytes - cost.weight_bytes) / cost.kv_bytes_per_token


def batch_pass_s(overhead_s: Any, weight_bytes: Any, kv_bytes: Any, memory_bandwidth_bytes_per_s: Any,
                 flops: Any, peak_flops: Any) -> np.ndarray:
    """t_pass = o + max((W + KV bytes) / B_mem, FLOPs / F) in seconds, elementwise (module docstring):
    :func:`uara.model.shared.physics.roofline_pass_s` with the KV bytes added to the weights."""
    moved = np.asarray(weight_bytes, dtype=float) + np.asarray(kv_bytes, dtype=float)
    return roofline_pass_s(np.asarray(overhead_s, dtype=float), moved,
                           np.asarray(memory_bandwidth_bytes_per_s, dtype=float), flops,
                           np.asarray(peak_flops, dtype=float))
