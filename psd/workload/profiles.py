"""PSD profiles: what one task type looks like to the simulator and to P1.

A profile (JSON, format ``PSD_PROFILE_FORMAT``; shipped ones live in
``psd/profiles/*.json``, package data of ``uara.psd``) holds, for one task
type (``code``, ``summarisation``, ``chat``) and one (draft, target) pair:

- ``models.draft`` / ``models.target``: layers, width, vocab, non-embedding
  parameters (:class:`uara.psd.workload.flops.ModelShape`) -> FLOPs per token;
- ``prompt_tokens`` / ``output_tokens``: length distributions
  (``fixed`` value, ``empirical`` values, or ``lognormal`` median/sigma
  clipped to [min, max]);
- ``acceptance``: ``alpha`` (share of positions where the draft matches), and
  the model the simulator uses: ``iid``, ``runs`` (``run_lengths``: values and
  counts) or ``traces`` (measured 0/1 strings); ``accepted_lengths``
  (``draft_length``, ``counts``) may replace ``run_lengths``;
- ``decoding``: default ``mode`` (sd/psd), ``draft_length``, ``pre_verify``,
  ``protocol`` (:mod:`uara.psd.simulation.protocols`) and ``stream_uplink`` (each draft
  token leaves as soon as it is drafted; default true);
- ``provenance``: ``kind`` = ``measured`` (models, prompts, sample size,
  command) or ``declared`` (with ``source``);
- ``measured`` (optional): the raw results of the profiling run.

Payload bits per round and FLOPs per token are derived from these fields
(:meth:`Profile.summary`), never stored as free numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from uara.errors import UaraError
import re

from uara.io import atomic_write_text, dumps_json, read_json
from uara.psd.simulation.acceptance import Acceptance
from uara.psd.workload.flops import ModelShape
from uara.psd.simulation.protocols import PROTOCOLS, Protocol
from uara.psd.simulation.simulator import Decoding

from uara.model.shared.formats import PSD_PROFILE_FORMAT as PROFILE_FORMAT  # noqa: E402
TASK_TYPES = ("code", "summarisation", "chat")


def _num(d: Mapping[str, Any], key: str, where: str, *, lo: float | None = None, hi: float | None = None,
         integer: bool = False, default: Any = ...) -> Any:
    if key not in d:
        if default is ...:
            raise UaraError(f"{where}.{key}: missing")
        return default
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        raise UaraError(f"{where}.{key}: expected a number, got {v!r}")
    if integer and v != int(v):
        raise UaraError(f"{where}.{key}: expected an integer, got {v!r}")
    if lo is not None and v < lo or hi is not None and v > hi:
        raise UaraError(f"{where}.{key}: expected a value in [{lo}, {hi}], got {v!r}")
    return int(v) if integer else float(v)


@dataclass(frozen=True)
class LengthDist:
    """A distribution of token counts (see the module docstring)."""

    kind: str
    params: Mapping[str, Any]

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "LengthDist":
        if not isinstance(d, Mapping) or "kind" not in d:
            raise UaraError(f"{where}: expected an object with a 'kind'")
        kind = d["kind"]
        if kind == "fixed":
            return cls(kind, {"value": _num(d, "value", where, lo=1, integer=True)})
        if kind == "empirical":
            vals = d.get("values")
            if not isinstance(vals, list) or not vals:
                raise UaraError(f"{where}.values: expected a non-empty list")
            for k, v in enumerate(vals):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 1 or v != int(v):
                    raise UaraError(f"{where}.values[{k}]: expected a positive integer, got {v!r}")
            return cls(kind, {"values": [int(v) for v in vals]})
        if kind == "lognormal":
            p = {"median": _num(d, "median", where, lo=1), "sigma": _num(d, "sigma", where, lo=0),
                 "min": _num(d, "min", where, lo=1, integer=True, default=1),
                 "max": _num(d, "max", where, lo=1, integer=True, default=100000)}
            if p["min"] > p["max"]:
                raise UaraError(f"{where}: min > max")
            return cls(kind, p)
        raise UaraError(f"{where}.kind: expected fixed, empirical or lognormal, got {kind!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.params}

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws, int64 >= 1."""
        p = self.params
        if self.kind == "fixed":
            return np.full(n, p["value"], dtype=np.int64)
        if self.kind == "empirical":
            return rng.choice(np.asarray(p["values"], dtype=np.int64), size=n)
        x = np.round(p["median"] * np.exp(p["sigma"] * rng.standard_normal(n)))
        return np.clip(x, p["min"], p["max"]).astype(np.int64)

    def mean(self) -> float:
        p = self.params
        if self.kind == "fixed":
            return float(p["value"])
        if self.kind == "empirical":
            return float(np.mean(p["values"]))
        return float(self.sample(np.random.default_rng(0), 20000).mean())


@dataclass(frozen=True)
class Profile:
    """One task type's profile (see the module docstring); build with :meth:`from_dict`."""

    name: str
    task_type: str
    draft: ModelShape
    target: ModelShape
    prompt_tokens: LengthDist
    output_tokens: LengthDist
    acceptance: Acceptance
    acceptance_dict: Mapping[str, Any]
    mode: str
    draft_length: int
    pre_verify: bool
    protocol: Protocol
    provenance: Mapping[str, Any]
    stream_uplink: bool = True
    measured: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def vocab(self) -> int:
        return self.target.vocab

    def context_tokens(self, prompt_tokens: Any, output_tokens: Any) -> np.ndarray:
        """Mean context while generating: prompt + output / 2."""
        return np.asarray(prompt_tokens, dtype=float) + 0.5 * np.asarray(output_tokens, dtype=float)

    def decoding(self, *, mode: str | None = None, draft_length: int | None = None,
                 protocol: str | Protocol | None = None, pre_verify: bool | None = None,
                 adaptive: bool = False, stream_uplink: bool | None = None) -> Decoding:
        """The profile's :class:`Decoding`, with any field overridden."""
        g = int(draft_length or self.draft_length)
        return Decoding(mode=mode or self.mode, draft_length=g,
                        pre_verify=self.pre_verify if pre_verify is None else pre_verify,
                        adaptive=adaptive, max_draft_length=max(g, 64),
                        protocol=Protocol.parse(protocol) if protocol is not None else self.protocol,
                        vocab=self.vocab,
                        stream_uplink=self.stream_uplink if stream_uplink is None else stream_uplink)

    def summary(self, draft_length: int | None = None) -> dict[str, Any]:
        """Derived numbers: FLOPs per token at the mean context, bits per round per protocol."""
        g = int(draft_length or self.draft_length)
        ctx = self.context_tokens(self.prompt_tokens.mean(), self.output_tokens.mean())
        protos = {"ids": Protocol("ids"), "full": Protocol("full"), "topk:64": Protocol("topk", 64),
                  "split": Protocol("split"), "pearl": Protocol("pearl"), self.protocol.spec: self.protocol}
        return {
            "mean_context_tokens": float(ctx),
            "draft_flops_per_token": float(self.draft.flops_per_token(ctx)),
            "target_flops_per_token": float(self.target.flops_per_token(ctx)),
            # down: a round with a rejection (split's larger message; the others do not depend on it)
            "bits_per_round": {k: {"up": float(p.up_bits(g, self.vocab)), "down": float(p.down_bits(g, self.vocab))}
                               for k, p in protos.items()},
            "draft_length": g,
            "alpha": self.acceptance.alpha,
        }

    @classmethod
    def from_dict(cls, d: Any, source: str = "profile") -> "Profile":
        if not isinstance(d, Mapping):
            raise UaraError(f"{source}: expected a JSON object")
        if d.get("format") != PROFILE_FORMAT:
            raise UaraError(f"{source}.format: expected {PROFILE_FORMAT!r}, got {d.get('format')!r}")
        for k in ("name", "task_type"):
            if not isinstance(d.get(k), str) or not d[k]:
                raise UaraError(f"{source}.{k}: expected a non-empty string")
        if d["task_type"] not in TASK_TYPES:
            raise UaraError(f"{source}.task_type: expected one of {TASK_TYPES}, got {d['task_type']!r}")
        models = d.get("models")
        if not isinstance(models, Mapping):
            raise UaraError(f"{source}.models: expected an object with draft and target")
        draft = ModelShape.from_dict(models.get("draft"), f"{source}.models.draft")
        target = ModelShape.from_dict(models.get("target"), f"{source}.models.target")
        if draft.vocab != target.vocab:
            raise UaraError(f"{source}.models: draft and target vocabularies differ ({draft.vocab} vs {target.vocab})")
        acc_d = d.get("acceptance")
        acc = _acceptance(acc_d, f"{source}.acceptance")
        dec = d.get("decoding")
        if not isinstance(dec, Mapping):
            raise UaraError(f"{source}.decoding: expected an object")
        mode = dec.get("mode", "psd")
        if mode not in ("sd", "psd"):
            raise UaraError(f"{source}.decoding.mode: expected sd or psd, got {mode!r}")
        try:
            proto = Protocol.parse(dec.get("protocol", "ids"))
        except UaraError as exc:
            raise UaraError(f"{source}.decoding.{exc}") from None
        prov = d.get("provenance")
        if not isinstance(prov, Mapping) or prov.get("kind") not in ("measured", "declared"):
            raise UaraError(f"{source}.provenance.kind: expected 'measured' or 'declared'")
        if prov["kind"] == "declared" and not prov.get("source"):
            raise UaraError(f"{source}.provenance.source: a declared profile must name its source")
        return cls(
            name=d["name"], task_type=d["task_type"], draft=draft, target=target,
            prompt_tokens=LengthDist.from_dict(d.get("prompt_tokens"), f"{source}.prompt_tokens"),
            output_tokens=LengthDist.from_dict(d.get("output_tokens"), f"{source}.output_tokens"),
            acceptance=acc, acceptance_dict=dict(acc_d), mode=mode,
            draft_length=_num(dec, "draft_length", f"{source}.decoding", lo=1, hi=1024, integer=True),
            pre_verify=bool(dec.get("pre_verify", True)), protocol=proto, provenance=dict(prov),
            stream_uplink=bool(dec.get("stream_uplink", True)),
            measured=d.get("measured"),
        )

    def to_dict(self) -> dict[str, Any]:
        out = {
            "format": PROFILE_FORMAT, "name": self.name, "task_type": self.task_type,
            "models": {"draft": self.draft.to_dict(), "target": self.target.to_dict()},
            "prompt_tokens": self.prompt_tokens.to_dict(), "output_tokens": self.output_tokens.to_dict(),
            "acceptance": dict(self.acceptance_dict),
            "decoding": {"mode": self.mode, "draft_length": self.draft_length, "pre_verify": self.pre_verify,
                         "protocol": self.protocol.spec, "stream_uplink": self.stream_uplink},
            "provenance": dict(self.provenance),
            "derived": self.summary(),
        }
        if self.measured is not None:
            out["measured"] = self.measured
        return out

    def save(self, path: str | Path) -> Path:
        """Write as JSON (lists of numbers/strings on one line each)."""
        return atomic_write_text(path, dumps_compact(self.to_dict()))


def dumps_compact(obj: Any) -> str:
    """:func:`uara.io.dumps_json` with innermost lists (no nested [ ] or { }) on one line."""
    text = dumps_json(obj, indent=1)

    def one_line(m: "re.Match[str]") -> str:
        items = [x.strip() for x in m.group(0)[1:-1].split(",")]
        return "[" + ", ".join(x for x in items if x) + "]"

    return re.sub(r"\[[^\[\]{}\"]*\]|\[\s*(?:\"[01]*\"\s*,?\s*)+\]", one_line, text)


def _acceptance(d: Any, where: str) -> Acceptance:
    if not isinstance(d, Mapping):
        raise UaraError(f"{where}: expected an object")
    model = d.get("model", "iid")
    alpha = _num(d, "alpha", where, lo=0.0, hi=1.0)
    if model == "iid":
        return Acceptance.iid(alpha)
    try:
        if model == "runs":
            if "run_lengths" in d:
                rl = d["run_lengths"]
                if not isinstance(rl, Mapping):
                    raise UaraError(f"{where}.run_lengths: expected an object with values and counts")
                return Acceptance.runs(rl.get("values", []), rl.get("counts", []))
            al = d.get("accepted_lengths")
            if not isinstance(al, Mapping):
                raise UaraError(f"{where}: model 'runs' needs run_lengths or accepted_lengths")
            return Acceptance.from_accepted_lengths(al.get("counts", []), int(al.get("draft_length", 0)))
        if model == "traces":
            tr = d.get("traces")
            if not isinstance(tr, list) or not all(isinstance(t, str) for t in tr):
                raise UaraError(f"{where}.traces: expected a list of 0/1 strings")
            return Acceptance.traces(tr)
    except UaraError as exc:
        msg = str(exc)
        raise UaraError(msg if msg.startswith(where) else f"{where}: {msg}") from None
    raise UaraError(f"{where}.model: expected iid, runs or traces, got {model!r}")


def _package_dir() -> Path:
    return Path(str(resources.files("uara.psd") / "profiles"))


def list_profiles() -> list[str]:
    """Names of the shipped profiles."""
    return sorted(p.stem for p in _package_dir().glob("*.json"))


def load_profile(name_or_path: str | Path) -> Profile:
    """A shipped profile by name (``gpt2_code``) or any profile file by path."""
    p = Path(name_or_path)
    if not p.is_file():
        cand = _package_dir() / f"{name_or_path}.json"
        if not cand.is_file():
            raise UaraError(f"profile not found: {name_or_path} (shipped: {', '.join(list_profiles())})")
        p = cand
    return Profile.from_dict(read_json(p, "profile"), source=p.name)


def load_profile_set(prefix_or_paths: str | list[str]) -> dict[str, Profile]:
    """Profiles keyed by task type: ``'gpt2'`` -> every shipped ``gpt2_<type>``;
    or an explicit list of names/paths."""
    if isinstance(prefix_or_paths, str):
        names = [n for n in list_profiles() if n.startswith(prefix_or_paths + "_")]
        if not names:
            raise UaraError(f"profile set {prefix_or_paths!r}: no shipped profile named {prefix_or_paths}_<type>")
    else:
        names = list(prefix_or_paths)
    out: dict[str, Profile] = {}
    for n in names:
        prof = load_profile(n)
        if prof.task_type in out:
            raise UaraError(f"profile set: two profiles for task type {prof.task_type!r}")
        out[prof.task_type] = prof
    return out
