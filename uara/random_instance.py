"""Random instances for tests, examples and quick experiments.

Geometry: E servers and M devices uniform in a square of side ``area_m``
(servers at 25 m, devices at 1.5 m). Channel: log-distance path loss at
3.5 GHz, gain_db = -(43.3 + 10 n log10(d / 1 m)) + N(0, sigma^2) shadowing,
n = 3.0, sigma = 6 dB (a 3GPP-UMi-like slope; 43.3 dB is free-space loss at
1 m and 3.5 GHz). Hardware and tasks are drawn from :mod:`uara.catalog` and
:mod:`uara.tasks` when those exist, else from the small table below, which
uses the same effective FLOP/s (docs/model.md, "Calibration").
"""

from __future__ import annotations

import numpy as np

from uara.instance import Device, Instance, Params, Server, Slot, Task

# kind: (effective FLOP/s, battery capacity J). Effective draft-decoding FLOP/s of a
# memory-bound GPT2 on the phone: memory bandwidth / fp16 weight bytes * FLOP per token.
_DEVICE_KINDS = {
    "galaxy_s23": (7.3e10, 14000.0),
    "iphone_14": (3.7e10, 12700.0),
    "mate_60": (4.7e10, 18600.0),
}
# kind: effective FLOP/s for batched verification (~40 % of FP32 peak).
_SERVER_KINDS = {"rtx2080": 4.0e12, "rtx3090": 1.42e13, "rtx4090": 3.3e13}
# type: (mean output tokens, acceptance-driven draft overhead)
_TASK_TYPES = {"code": (200, 1.3), "summarisation": (120, 1.4), "chat": (250, 1.35)}
_DRAFT_FLOP_PER_TOKEN = 2.7e8  # GPT2
_TARGET_FLOP_PER_TOKEN = 3.2e9  # GPT2-XL
_BITS_PER_DRAFT_TOKEN = 16 + 128 * 32  # token id + top-128 (index, fp16 prob)


def log_distance_gain_db(distance_m: np.ndarray, rng: np.random.Generator, exponent: float = 3.0, shadow_db: float = 6.0) -> np.ndarray:
    """gain_db = -(43.3 + 10 n log10(max(d, 1))) + N(0, shadow_db^2), same shape as ``distance_m``."""
    d = np.maximum(np.asarray(distance_m, dtype=float), 1.0)
    return -(43.3 + 10.0 * exponent * np.log10(d)) + rng.normal(0.0, shadow_db, size=d.shape)


def _tasks(m: int, rng: np.random.Generator) -> list[Task]:
    types = list(_TASK_TYPES)
    chosen = rng.integers(0, len(types), size=m)
    out = []
    for i in range(m):
        typ = types[chosen[i]]
        mean_out, overhead = _TASK_TYPES[typ]
        n_out = max(16, int(rng.normal(mean_out, 0.25 * mean_out)))
        drafted = n_out * overhead
        out.append(
            Task(
                type=typ,
                bits=float(drafted * _BITS_PER_DRAFT_TOKEN),
                flops_device=float(drafted * _DRAFT_FLOP_PER_TOKEN),
                flops_server=float(drafted * 1.1 * _TARGET_FLOP_PER_TOKEN),
            )
        )
    return out


def random_instance(
    m: int = 60,
    e: int = 8,
    *,
    slots: int = 1,
    seed: int = 0,
    params: Params | None = None,
    area_m: float = 500.0,
    name: str | None = None,
) -> Instance:
    """A random ``m`` x ``e`` instance with ``slots`` independent slots (seeded)."""
    from uara.errors import InstanceError

    if m < 1:
        raise InstanceError("m", f"needs at least one device, got {m}")
    if e < 1:
        raise InstanceError("e", f"needs at least one server, got {e}")
    rng = np.random.default_rng(seed)
    dkinds, skinds = list(_DEVICE_KINDS), list(_SERVER_KINDS)
    devices = []
    for i in range(m):
        kind = dkinds[rng.integers(len(dkinds))]
        flops, cap = _DEVICE_KINDS[kind]
        devices.append(Device(f"d{i}", kind, flops, float(rng.integers(16, 25)), cap))
    servers = []
    server_xy = rng.uniform(0, area_m, size=(e, 2))
    for j in range(e):
        kind = skinds[rng.integers(len(skinds))]
        servers.append(Server(f"s{j}", kind, _SERVER_KINDS[kind], (float(server_xy[j, 0]), float(server_xy[j, 1]), 25.0)))
    server_pos = np.column_stack([server_xy, np.full(e, 25.0)])
    out_slots = []
    for _ in range(slots):
        dev_pos = np.column_stack([rng.uniform(0, area_m, size=(m, 2)), np.full(m, 1.5)])
        dist = np.linalg.norm(dev_pos[:, None, :] - server_pos[None, :, :], axis=2)
        gain = log_distance_gain_db(dist, rng)
        out_slots.append(
            Slot(
                gain_db=np.round(gain, 6),
                battery=np.round(rng.uniform(0.2, 1.0, size=m), 6),
                queue_s=np.round(rng.uniform(0.0, 0.05, size=e), 6),
                tasks=_tasks(m, rng),
                device_positions=np.round(dev_pos, 3),
            )
        )
    prov = {
        "generator": "uara.random_instance",
        "channel": "log-distance (n=3.0, 6 dB shadowing, 3.5 GHz)",
        "m": m, "e": e, "slots": slots, "seed": seed, "area_m": area_m,
        "note": "synthetic: random geometry and channel, not ray-traced",
    }
    inst = Instance(name or f"random_m{m}_e{e}_s{seed}", params or Params(), devices, servers, out_slots, prov)
    return inst.validate()
