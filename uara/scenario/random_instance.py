"""Random instances for tests, examples and quick experiments.

A thin preset of :func:`uara.scenario.builder.build_instance`: the ``free-space``
channel with a log-distance exponent of 3.0 and 6 dB log-normal shadowing (a
3GPP-UMi-like slope) in a square of side ``area_m``, hardware from the
built-in catalog, tasks from the PSD profiles (the builder's default, as in
the shipped instances: protocol ``full@4``, d_i of tens of Mbit; see
docs/model.md "Magnitudes"), random-waypoint mobility across slots. Everything is drawn from ``seed``; the provenance
records how to rebuild the instance.
"""

from __future__ import annotations

from uara.errors import InstanceError
from uara.model.instance import Instance, Params

#: Channel options of random instances (see uara.scenario.channels.free_space).
RANDOM_CHANNEL = {"exponent": 3.0, "shadowing_db": 6.0}


def random_instance(
    m: int = 60,
    e: int = 8,
    *,
    slots: int = 1,
    seed: int = 0,
    params: Params | None = None,
    area_m: float = 500.0,
    name: str | None = None,
    task_options: dict | None = None,
) -> Instance:
    """A random ``m`` x ``e`` instance with ``slots`` slots (seeded); ``task_options`` go to the
    task source (e.g. ``{"protocol": "topk:128"}`` for top-K uplinks, see :mod:`uara.scenario.task_sources`)."""
    from uara.scenario.builder import build_instance

    if m < 1:
        raise InstanceError("m", f"needs at least one device, got {m}")
    if e < 1:
        raise InstanceError("e", f"needs at least one server, got {e}")
    return build_instance(
        devices=m,
        servers=e,
        slots=slots,
        channel="free-space",
        seed=seed,
        channel_options={**RANDOM_CHANNEL, "width_m": area_m, "depth_m": area_m},
        params=params,
        task_options=task_options,
        name=name or f"random_m{m}_e{e}_s{seed}",
    )
