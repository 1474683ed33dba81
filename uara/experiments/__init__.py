"""The experiments wing: running solvers over grids, checking every run, caching bounds, reporting.

- :mod:`uara.experiments.comparison` -- ``compare``: the resumable campaign over instances x solvers x seeds.
- :mod:`uara.experiments.bounds` -- the one bound cache; methods and versions come from the solver registry.
- :mod:`uara.experiments.episode` -- episodes: solve slot after slot while the state rolls forward.
- :mod:`uara.experiments.report` -- the report (Markdown, HTML, figures) from a stored table.
"""
