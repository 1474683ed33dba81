"""The provenance of a built instance: what :func:`uara.scenario.builder.build_instance` records
(``provenance["build"]``, the resolved spec; ``provenance["resolved"]``, what it resolved to and the
hashes of the files it read; package versions) and how a rebuild reads it back, refusing when a
file it depends on (scene, PSD profiles, hardware catalog) changed since the build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from uara.errors import UaraError
from uara.io import read_json
from uara.model.instance import Instance, Params
from uara.model.shared.formats import BUILD_FORMAT
from uara.scenario.build_spec import BuildSpec
from uara.scenario.channels import ChannelProvider

#: The dotted path of the builder, recorded in provenance.
BUILDER = "uara.scenario.builder.build_instance"
#: Earlier paths of the same builder (before the wings): rebuilds of their instances keep the recorded name.
BUILDER_ALIASES = ("uara.build.build_instance", BUILDER)


def provenance_record(spec: BuildSpec, par: Params, provider: ChannelProvider, layout: Any, mobility: Any, sampler: Any,
                cat: Any, stats: dict[str, Any]) -> dict[str, Any]:
    """``provenance``: the resolved spec (every channel option and parameter written out, so a rebuild does not
    depend on a later version's defaults; the scene file's hash is checked, not passed) and what was resolved."""
    from uara import __version__

    resolved_ch = provider.options()
    resolved_ch.pop("scene_sha256", None)
    resolved_ch.pop("gain_floor_db", None)  # always params.gain_floor_db
    rec_scene = resolved_ch.pop("scene", None)
    describe = getattr(sampler, "describe", lambda: {"model": "custom"})
    return {
        "builder": BUILDER,
        "format": BUILD_FORMAT,
        "tool_version": __version__,
        "seed": int(spec.seed),
        "channel": provider.label,
        "psd_profile": describe().get("model", "custom"),
        "build": spec.resolved(scene=rec_scene, channel_options=resolved_ch, params=par).to_dict(),
        "resolved": {
            "channel_options": provider.options(),
            "layout": layout.describe(),
            "mobility": mobility.describe(),
            "tasks": describe(),
            "catalog": {"source": cat.source, "sha256": cat.sha256},
            "task_files_sha256": task_files_sha256(sampler),
            "versions": _versions(provider),
            "battery_rule": _battery_rule(spec, par),
            "queue_rule": _queue_rule(spec),
            "no_path_rule": "slot 0: first M reaching devices of M+spares, then up to max_resample rounds of fresh "
                            "positions, then drop; t>=1: a move into no coverage is cancelled (held) and redirected",
        },
        "build_stats": stats,
    }


def _battery_rule(spec: BuildSpec, par: Params) -> str:
    if par.energy_model == "paper" and spec.queue_model == "uniform":
        return "B(0)~U[battery_range]; B(t+1)=max(1e-3, B(t)-(dCP f_MD + dCM (min(1,E/M) W/E/1e6) P_W)/capacity)"
    cm = "dCM (min(1,E/M) W/E/1e6) P_W" if par.energy_model == "paper" else "P_W b_i,ref / min(1,E/M)"
    return f"B(0)~U[battery_range]; B(t+1)=max(1e-3, B(t)-(dCP f_MD + {cm})/capacity), ref = Max-SINR association"


def _queue_rule(spec: BuildSpec) -> str:
    if spec.queue_model == "uniform":
        return "queue_s ~ U[0, queue_max_s] i.i.d. per slot and server"
    if spec.queue_model == "background":
        return ("Lindley of the background alone: q_j(0)=0; q_j(t+1)=max(0, q_j(t) + X_j(t) - tau), "
                f"X_j(t) ~ Exponential(mean {spec.background_load:g} tau); the same for every method")
    return ("Lindley: q_j(0)=0; q_j(t+1)=max(0, q_j(t) + sum_{i->j} f_i^ES/F_j + X_j(t) - tau), Max-SINR association, "
            f"X_j(t) ~ Exponential(mean {spec.background_load:g} tau)")


def task_files_sha256(sampler: Any) -> str | None:
    """SHA-256 over the data files a task sampler reads (the PSD profiles of its profile set), or None."""
    describe = getattr(sampler, "describe", None)
    info = describe() if callable(describe) else {}
    if not str(info.get("model", "")).startswith("psd:"):
        return None
    import hashlib
    from importlib import resources

    folder = resources.files("uara.psd") / "profiles"
    profiles = info.get("profiles", "gpt2")
    if isinstance(profiles, str):
        files = [f for f in folder.iterdir() if f.name.startswith(profiles + "_") and f.name.endswith(".json")]
    else:
        files = [Path(p) if Path(p).is_file() else folder / f"{p}.json" for p in profiles]
    h = hashlib.sha256()
    for entry in sorted(files, key=lambda p: p.name):
        h.update(entry.name.encode() + b"\0" + entry.read_bytes())
    return h.hexdigest()


def _versions(provider: ChannelProvider) -> dict[str, str]:
    from importlib import metadata

    out = {"numpy": np.__version__}
    try:
        out.update(provider.versions())
    except Exception:  # pragma: no cover - versions are informational
        pass
    for pkg in ("uara",):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def provenance_of(source: str | Path | Mapping[str, Any] | Instance) -> Mapping[str, Any]:
    if isinstance(source, Instance):
        return source.provenance or {}
    if isinstance(source, Mapping):
        prov = source.get("provenance", source)
    else:
        data = read_json(source, what="instance or provenance file")
        prov = data.get("provenance", data) if isinstance(data, dict) else None
    return prov if isinstance(prov, Mapping) else {}


def build_options_from(source: str | Path | Mapping[str, Any] | Instance) -> dict[str, Any]:
    """The ``build_instance`` keyword arguments recorded in an instance (file, dict or object) or a
    provenance dict."""
    prov = provenance_of(source)
    if prov.get("format") != BUILD_FORMAT or "build" not in prov:
        raise UaraError(f"provenance: not written by uara build (expected format {BUILD_FORMAT!r} with a 'build' "
                        "entry); only built instances can be rebuilt")
    opts = dict(prov["build"])
    if "task_sampler" in opts:
        raise UaraError("provenance.build.task_sampler: built with a custom task sampler object; "
                        "call build_instance(..., task_sampler=...) yourself")
    scene_sha = prov.get("resolved", {}).get("channel_options", {}).get("scene_sha256")
    if scene_sha:
        from uara.scenario.channels.sionna_rt import _file_sha256

        scene_file = str(opts.get("scene"))
        if not Path(scene_file).is_file() or _file_sha256(scene_file) != scene_sha:
            raise UaraError(f"provenance.build.scene: the scene file {scene_file} is missing or changed since the build")
    recorded_tasks = prov.get("resolved", {}).get("task_files_sha256")
    if recorded_tasks:
        from uara.scenario.task_sources import get_task_sampler

        current = task_files_sha256(get_task_sampler(str(opts.get("tasks")), **dict(opts.get("task_options") or {})))
        if current != recorded_tasks:
            raise UaraError("provenance.resolved.task_files_sha256: the PSD profiles the tasks come from "
                            "(uara/psd/profiles/) changed since the build; the tasks would differ")
    expected = prov.get("resolved", {}).get("catalog", {}).get("sha256")
    if expected:
        from uara.scenario.hardware import load_catalog

        actual = load_catalog(opts.get("catalog")).sha256
        if actual != expected:
            raise UaraError(f"provenance.build.catalog: the catalog file changed since the build "
                            f"(sha256 {actual[:12]} != {expected[:12]})")
    return opts
