"""The model wing (ground floor): problem P1 of Koh & Yang (arXiv 2511.01695) and everything that scores it.

Modules, each with one job:

- :mod:`uara.model.instance` -- the data of P1 (``INSTANCE_FORMAT``): Params, Device, Server, Task, Slot, Instance.
- :mod:`uara.model.shared.validation` -- field-path validation of instance JSON.
- :mod:`uara.model.formulation` -- SlotData: the arrays of P1 for one slot and its objective terms (eqs. 1-10).
- :mod:`uara.model.evaluator` -- scores any decision and lists every violated constraint.
- :mod:`uara.model.allocation` -- the exact (and the paper's uniform) allocation for a fixed association.
- :mod:`uara.model.solution` -- the decision record (SlotDecision), the solution (``SOLUTION_FORMAT``),
  Status, the one gap formula and the one status aggregation.
- :mod:`uara.model.verify` -- the one check that a stored solution is honest.
- :mod:`uara.model.dynamics` -- battery and backlog rolled forward across slots.

This wing imports nothing of uara but :mod:`uara.errors` and :mod:`uara.io`
(tests/test_layering.py enforces it).
"""
