"""Export P1's slot model to one's own solver: ``uara.export.to_pyomo(instance, slot)``,
``to_cvxpy(instance, slot, relax=False)``, ``write_model(instance, slot, path, fmt)`` (lp, mps, nl,
cvxpy-json), ``export_info`` and ``association_from_x`` to decode a solution. The objective is
I(t) - C(t) over the usable pairs; see :mod:`uara.solvers.model_export` and docs/solvers.md."""

from __future__ import annotations

from uara.solvers.model_export import (FORMATS, ExportInfo, association_from_x, conic_data, export_info, to_cvxpy,
                                       to_pyomo, write_model)

__all__ = ["FORMATS", "ExportInfo", "association_from_x", "conic_data", "export_info", "to_cvxpy", "to_pyomo",
           "write_model"]
