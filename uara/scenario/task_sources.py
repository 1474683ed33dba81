"""Task samplers: each device draws one task per slot (code, summarisation or chat).

A task sampler is any callable ``sampler(rng, n) -> list[Task]`` with a
``describe() -> dict`` for provenance. :func:`get_task_sampler` returns the
built-in parametric one or, where :mod:`uara.psd` provides profiles, the
PSD-profile one.

Parametric model (``"parametric"``), per task of type k:

    n_out   ~ LogNormal with mean mu_k and coefficient of variation cv, >= 16  (output tokens)
    D       = round(n_out * (1 + r_k))            drafted tokens (r_k: share of drafts rejected)
    f^MD    = D * flop_draft                      draft FLOP on the phone   (GPT2: 2.7e8 FLOP/token)
    f^ES    = D * (1 + 1/gamma) * flop_target     verification FLOP         (GPT2-XL: 3.2e9 FLOP/token;
                                                  one bonus position per block of gamma drafts)
    d       = D * (16 + 32 K)                     uplink bits: token id + top-K (16-bit index, fp16 prob)

Defaults: mu = 200 / 120 / 250 tokens and r = 0.25 / 0.35 / 0.30 for code /
summarisation / chat (code is the most predictable), cv = 0.3, gamma = 8,
K = 128. A chat task then drafts ~325 tokens: f^MD ~ 88 GFLOP (~1.7 s on a
Galaxy S23 at 5.1e10 effective FLOP/s), f^ES ~ 1.2 TFLOP, d ~ 1.3 Mbit:
the orders of magnitude of docs/model.md "Calibration".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from uara.errors import UaraError
from uara.model.instance import Task


class TaskSampler(Protocol):
    """``sampler(rng, n)`` -> ``n`` tasks; ``describe()`` -> JSON-ready options."""

    def __call__(self, rng: np.random.Generator, n: int) -> list[Task]: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TaskType:
    """Parameters of one task type: mean output tokens and share of rejected drafts."""

    mean_output_tokens: float
    rejection_share: float
    weight: float = 1.0


def _default_types() -> dict[str, TaskType]:
    return {"code": TaskType(200.0, 0.25), "summarisation": TaskType(120.0, 0.35), "chat": TaskType(250.0, 0.30)}


@dataclass(frozen=True)
class ParametricTasks:
    """The documented parametric task model (module docstring). All fields are options."""

    types: dict[str, TaskType] = field(default_factory=_default_types)
    cv: float = 0.3
    min_output_tokens: int = 16
    gamma: int = 8
    top_k: int = 128
    flop_draft: float = 2.7e8
    flop_target: float = 3.2e9

    def __post_init__(self) -> None:
        if not self.types:
            raise UaraError("task option types: at least one task type is needed")
        for name, t in self.types.items():
            if t.mean_output_tokens <= 0 or not 0 <= t.rejection_share < 10 or t.weight < 0:
                raise UaraError(f"task option types.{name}: needs mean_output_tokens > 0, 0 <= rejection_share, weight >= 0")
        if self.cv < 0 or self.gamma < 1 or self.top_k < 0 or self.flop_draft <= 0 or self.flop_target <= 0:
            raise UaraError("task options: need cv >= 0, gamma >= 1, top_k >= 0, flop_draft > 0, flop_target > 0")

    @property
    def bits_per_draft_token(self) -> int:
        """16-bit token id plus top-K (16-bit index + fp16 probability) = 16 + 32 K bits."""
        return 16 + 32 * self.top_k

    def describe(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = "parametric"
        return d

    def __call__(self, rng: np.random.Generator, n: int) -> list[Task]:
        names = list(self.types)
        w = np.array([self.types[k].weight for k in names], dtype=float)
        kind = rng.choice(len(names), size=n, p=w / w.sum())
        mu = np.array([self.types[names[k]].mean_output_tokens for k in kind])
        rej = np.array([self.types[names[k]].rejection_share for k in kind])
        # log-normal with mean mu and coefficient of variation cv
        s2 = np.log1p(self.cv ** 2)
        n_out = np.exp(rng.normal(np.log(mu) - s2 / 2, np.sqrt(s2)))
        n_out = np.maximum(np.round(n_out), self.min_output_tokens)
        drafted = np.round(n_out * (1.0 + rej))
        f_md = drafted * self.flop_draft
        f_es = drafted * (1.0 + 1.0 / self.gamma) * self.flop_target
        bits = drafted * self.bits_per_draft_token
        return [Task(names[kind[i]], float(bits[i]), float(f_md[i]), float(f_es[i])) for i in range(n)]


def parametric_from_options(options: dict[str, Any]) -> ParametricTasks:
    """A :class:`ParametricTasks` from JSON options (as written by ``describe()``)."""
    opts = dict(options)
    opts.pop("model", None)
    if "types" in opts:
        raw = opts["types"]
        if not isinstance(raw, dict):
            raise UaraError("task option types: expected an object of task types")
        opts["types"] = {k: TaskType(**v) for k, v in raw.items()}
    allowed = set(ParametricTasks.__dataclass_fields__)
    unknown = sorted(set(opts) - allowed)
    if unknown:
        raise UaraError(f"task option {unknown[0]!r} is unknown; known: {', '.join(sorted(allowed))}")
    return ParametricTasks(**opts)


def get_task_sampler(name: str = "parametric", **options: Any) -> TaskSampler:
    """A task sampler by name: ``parametric`` (this module) or ``psd`` (profiles of :mod:`uara.psd`)."""
    if name == "parametric":
        return parametric_from_options(options)
    if name == "psd":
        from uara.psd.workload.tasks import ProfileTaskSampler

        return ProfileTaskSampler.from_options(options)
    raise UaraError(f"unknown task sampler {name!r}; choose parametric or psd")
