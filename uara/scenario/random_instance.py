"""Random instances for tests, examples and quick experiments.

A thin preset of :func:`uara.scenario.builder.build_instance`: the ``free-space``
channel with a log-distance exponent of 3.0 and 6 dB log-normal shadowing (a
3GPP-UMi-like slope) in a square of side ``area_m``, hardware from the
built-in catalog, and otherwise the builder's defaults, as in the shipped
instances: the ``credible`` parameter set, the -6 dB coverage rule, PSD-profile
tasks with token-id payloads (``ids+h320``, d_i of tens of kbit), Lindley queues
(docs/model.md, "Parameter sets"); ``params="paper-literal"`` and
``task_options={}`` give the paper's scenario instead. Random-waypoint mobility
across slots. Everything is drawn from ``seed``; the provenance records how to
rebuild the instance.
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
    params: Params | str | dict | None = None,
    area_m: float = 500.0,
    name: str | None = None,
    task_options: dict | None = None,
    preset: str = "credible",
) -> Instance:
    """A random ``m`` x ``e`` instance with ``slots`` slots (seeded); ``params`` a Params, a parameter-set
    name or a dict of overrides of the default set (None: ``credible``); ``task_options`` go to the
    task source (e.g. ``{"protocol": "topk:128"}`` for top-K uplinks, see :mod:`uara.scenario.task_sources`);
    ``preset`` the build preset (:data:`uara.scenario.build_spec.PRESETS`: ``credible`` or ``paper-literal``)
    whose other choices (coverage rule, queue model) apply, and whose parameters and task options apply
    where ``params`` and ``task_options`` are None."""
    from uara.scenario.build_spec import PRESETS
    from uara.scenario.builder import build_instance

    if preset not in PRESETS:
        raise InstanceError("preset", f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    chosen = dict(PRESETS[preset])
    if params is not None:
        chosen["params"] = params
    if task_options is not None:
        chosen["task_options"] = task_options
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
        **chosen,
        name=name or f"random_m{m}_e{e}_s{seed}",
    )
