"""Channel providers: path gain in dB per device-server pair, one call per slot.

    from uara.scenario.channels import get_channel
    channel = get_channel("sionna-rt", scene="etoile")      # or "free-space", "sionna-umi", "sionna-uma"
    layout = channel.layout()                                 # where servers/devices may stand
    servers = layout.sample_servers(8, rng)                   # (E, 3) metres
    devices = layout.sample_devices(60, rng, servers=servers) # (M, 3) metres
    result = channel(servers, devices, seed=0)                # ChannelResult
    result.gain_db                                            # (M, E) dB, no path = floor

Sionna is imported only when a Sionna provider computes something;
``import uara.scenario.channels`` needs numpy only. See docs/channels.md.
"""

from __future__ import annotations

from typing import Any

from uara.scenario.channels.provider import (DEFAULT_FREQUENCY_HZ, DEFAULT_GAIN_FLOOR_DB, ChannelProvider, ChannelResult,
                                finalize_db, finalize_gain)
from uara.scenario.channels.free_space import FreeSpace
from uara.scenario.channels.geometry import BoxLayout, Layout
from uara.scenario.channels.sionna_rt import SionnaRT
from uara.scenario.channels.tr38901 import SionnaUMa, SionnaUMi
from uara.errors import UaraError

_PROVIDERS: dict[str, type[ChannelProvider]] = {
    cls.name: cls for cls in (FreeSpace, SionnaUMi, SionnaUMa, SionnaRT)
}


def list_channels() -> list[str]:
    """Names of the registered providers."""
    return sorted(_PROVIDERS)


def get_channel(name: str, **options: Any) -> ChannelProvider:
    """A configured provider by registry name.

    Raises:
        UaraError: unknown name or option (one line naming it).
    """
    cls = _PROVIDERS.get(name)
    if cls is None:
        raise UaraError(f"unknown channel {name!r}; choose one of {', '.join(list_channels())}")
    import inspect

    params = {k: p for k, p in inspect.signature(cls.__init__).parameters.items() if k != "self"}
    accepted = list(params)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise UaraError(f"channel {name!r} has no option {unknown[0]!r}; its options are {', '.join(accepted)}")
    for key, value in options.items():  # a number where the default is one ("-c exponent=nan" is a string)
        default = params[key].default
        numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
        if numeric and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise UaraError(f"channel option {key}: expected a number, got {value!r}")
    return cls(**options)


__all__ = ["BoxLayout", "ChannelProvider", "ChannelResult", "DEFAULT_FREQUENCY_HZ", "DEFAULT_GAIN_FLOOR_DB",
           "FreeSpace", "Layout", "SionnaRT", "SionnaUMa", "SionnaUMi", "finalize_db", "finalize_gain",
           "get_channel", "list_channels"]
