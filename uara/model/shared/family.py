"""Problem families: the one seam every family-dependent step goes through.

A family is a problem the toolkit states once and solves with interchangeable back-ends:

- ``p1``: Koh & Yang's UARA problem P1 (association, bandwidth and compute shares per slot;
  docs/model.md), instances :data:`~uara.model.shared.formats.INSTANCE_FORMAT`, solutions
  :data:`~uara.model.shared.formats.SOLUTION_FORMAT`;
- ``pipeline``: the pipelined speculative-decoding serving problem of Zhu et al. (arXiv 2510.11331;
  batches, speculation lengths and bandwidth; docs/pipeline.md), instances
  :data:`~uara.model.shared.formats.PIPELINE_INSTANCE_FORMAT`, solutions
  :data:`~uara.model.shared.formats.PIPELINE_SOLUTION_FORMAT`.

:class:`ProblemFamily` holds what differs between them (name, formats, loader, verifier, default
back-end, the table a comparison writes, the report section it contributes); :func:`family_of`
tells the family of a file, a mapping or a loaded object. The CLI, the comparison runner and the
report ask it instead of comparing format strings. A third family is one more
:class:`ProblemFamily` in :data:`FAMILIES` (its model in a subpackage of ``uara.model``, its
back-ends in a room of ``uara.solvers``; docs/architecture.md).

Loaders and verifiers are imported when first called, so asking for a family imports neither
family's model.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Mapping

from uara.errors import UaraError
from uara.io import read_json
from uara.model.shared.formats import (INSTANCE_FORMAT, PIPELINE_INSTANCE_FORMAT, PIPELINE_SOLUTION_FORMAT,
                                SOLUTION_FORMAT)
from uara.model.shared.validation import parse_with_path


def _attr(dotted: str) -> Any:
    module, _, name = dotted.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class ProblemFamily:
    """What the toolkit needs to know of a problem family.

    ``instance_class`` / ``verifier`` are ``"module:attribute"`` paths inside the model wing:
    the class's ``from_dict`` validates an instance mapping, and ``verifier(record, instance)``
    re-scores a stored solution record, raising :class:`~uara.errors.SolutionError` naming the field.
    ``report_section`` names the section the family adds to ``uara report`` (registered by the
    experiments wing); ``table`` is the file a comparison writes its rows to.
    """

    name: str
    title: str
    instance_format: str
    solution_format: str
    instance_class: str
    verifier: str
    default_solver: str
    table: str
    report_section: str

    def instance_type(self) -> type:
        """The class of the family's loaded instances (imported on first use)."""
        return _attr(self.instance_class)

    def load_instance(self, data: Mapping[str, Any], path: Any = None) -> Any:
        """Validate an instance mapping; a bad value raises one line naming its field (and the file)."""
        parse = _attr(self.instance_class).from_dict
        return parse(data) if path is None else parse_with_path(data, parse, path)

    def verify(self, record: Mapping[str, Any], instance: Any) -> Any:
        """Re-score a stored solution record on ``instance`` (the family's honest-run check)."""
        return _attr(self.verifier)(record, instance)


P1 = ProblemFamily(
    name="p1", title="UARA problem P1 (Koh & Yang, arXiv 2511.01695)",
    instance_format=INSTANCE_FORMAT, solution_format=SOLUTION_FORMAT,
    instance_class="uara.model.instance:Instance", verifier="uara.model.verify:verify_solution",
    default_solver="tma", table="results.parquet", report_section="p1",
)
PIPELINE = ProblemFamily(
    name="pipeline", title="Pipelined speculative-decoding serving (Zhu et al., arXiv 2510.11331)",
    instance_format=PIPELINE_INSTANCE_FORMAT, solution_format=PIPELINE_SOLUTION_FORMAT,
    instance_class="uara.model.pipeline.serving_instance:PipelineInstance",
    verifier="uara.model.pipeline.serving_solution:verify_serving_solution",
    default_solver="pipeline-dp", table="pipeline_results.csv", report_section="pipeline",
)
#: every family, by name
FAMILIES: dict[str, ProblemFamily] = {f.name: f for f in (P1, PIPELINE)}


def family_of_format(fmt: Any, what: str = "record") -> ProblemFamily:
    """The family whose instance or solution format is ``fmt``; one line naming the field otherwise."""
    for fam in FAMILIES.values():
        if fmt in (fam.instance_format, fam.solution_format):
            return fam
    known = ", ".join(f for fam in FAMILIES.values() for f in (fam.instance_format, fam.solution_format))
    raise UaraError(f"{what}: format: {fmt!r} is not a problem format ({known})")


def family_of(obj: Any) -> ProblemFamily:
    """The family of a file path, a mapping (by its ``format``) or a loaded instance or solution."""
    if isinstance(obj, (str, os.PathLike)):
        data = read_json(obj, what="file")
        if not isinstance(data, Mapping):
            raise UaraError(f"{obj}: expected a JSON object with a 'format' field")
        return family_of_format(data.get("format"), str(obj))
    if isinstance(obj, Mapping):
        return family_of_format(obj.get("format"))
    for fam in FAMILIES.values():
        if isinstance(obj, fam.instance_type()):
            return fam
    fmt = getattr(obj, "FORMAT", None)
    if fmt is not None:
        return family_of_format(fmt)
    raise UaraError(f"cannot tell the problem family of a {type(obj).__name__}")


def family_of_file(path: str | os.PathLike, default: ProblemFamily | None = None) -> ProblemFamily:
    """:func:`family_of` a file, or ``default`` (P1) when the file is unreadable or names no problem
    format (then the default family's loader reports what is wrong, naming the field)."""
    try:
        data = read_json(path, what="file")
    except UaraError:
        return default or P1
    return family_of_mapping(data, default)


def family_of_mapping(data: Any, default: ProblemFamily | None = None) -> ProblemFamily:
    """The family named by ``data["format"]``, or ``default`` (P1) when ``data`` names no problem format
    (then that family's loader or verifier says what it expected, naming the field)."""
    try:
        return family_of_format(data.get("format") if isinstance(data, Mapping) else None)
    except UaraError:
        return default or P1


def load_instance_file(path: str | os.PathLike) -> tuple[ProblemFamily, Any]:
    """(family, instance) of an instance file of any family; one-line errors naming the field and the file."""
    data = read_json(path, what="instance file")
    if not isinstance(data, Mapping):
        raise UaraError(f"{path}: expected a JSON object (an instance), got {type(data).__name__}")
    fam = family_of_mapping(data)
    if data.get("format") in (f.solution_format for f in FAMILIES.values()):
        raise UaraError(f"{path}: format: {data.get('format')!r} is a solution format; an instance is "
                        f"{fam.instance_format!r}")
    return fam, fam.load_instance(data, path)


__all__ = ["FAMILIES", "P1", "PIPELINE", "ProblemFamily", "family_of", "family_of_file", "family_of_format",
           "family_of_mapping", "load_instance_file"]
