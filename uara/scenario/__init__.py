"""The scenario wing: making instances of P1 from channels, hardware, tasks and mobility.

- :mod:`uara.scenario.builder` -- ``build_instance`` (BuildSpec -> Instance with provenance) and ``rebuild``.
- :mod:`uara.scenario.random_instance` -- seeded random instances (a preset of the builder).
- :mod:`uara.scenario.channels` -- channel providers (free space, 3GPP TR 38.901 via Sionna, Sionna RT).
- :mod:`uara.scenario.hardware` -- the hardware catalog (devices, servers).
- :mod:`uara.scenario.task_sources` -- task samplers (PSD profiles, synthetic).
- :mod:`uara.scenario.mobility` -- random-waypoint mobility across slots.
- :mod:`uara.scenario.statistics` -- per-instance statistics (coverage, loads) for ``uara inspect``.
"""

from uara.scenario.random_instance import random_instance

__all__ = ["random_instance"]
