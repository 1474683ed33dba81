"""The house rules of docs/architecture.md, enforced on the source tree.

Wings, lowest first: the loose modules (errors, io) < model < psd < scenario < rl <
solvers < experiments < cli < the facade (uara/__init__, uara/__main__, uara/export). A module
may import its own wing and the wings below it, never above. Every import counts, also one inside a function (a lazy
upward import is still an upward dependency). Module-level imports have no cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: source folder -> the package it installs as
FOLDERS = {"uara": "uara", "solvers": "uara.solvers", "psd": "uara.psd"}
RANK = {"base": 0, "model": 1, "psd": 2, "scenario": 3, "rl": 4, "solvers": 5, "experiments": 6, "cli": 7, "facade": 8}
LOOSE = {"uara.errors", "uara.io"}
FACADE = {"uara", "uara.__main__", "uara.export"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    pkg = FOLDERS[rel.parts[0]]
    parts = list(rel.with_suffix("").parts[1:])
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([pkg, *parts])


def wing(module: str) -> str:
    if module in FACADE:
        return "facade"
    if module in LOOSE:
        return "base"
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in RANK:
        return parts[1]
    raise AssertionError(f"{module}: not in a wing (at most errors, io, export, __init__ and __main__ stay loose in uara/)")


def source_modules() -> dict[str, Path]:
    out = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            out[module_name(path)] = path
    return out


def imports(path: Path, module: str, *, top_level_only: bool = False) -> list[tuple[str, int]]:
    """(imported uara module, line) for every import in ``path`` (resolved against the known modules)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                pkg = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
            found.append((base, node.lineno))
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    # the package root itself (``from uara import __version__``) is loaded by every import: not a dependency
    return [(name, line) for name, line in found if name.startswith("uara.") and name != "uara.__version__"]


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The known module an imported dotted name refers to (``uara.model.solution.Status`` -> ``uara.model.solution``)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def upward_imports(known: dict[str, Path]) -> list[str]:
    bad = []
    for mod, path in known.items():
        src = wing(mod)
        for name, line in imports(path, mod):
            target = resolve(name, known)
            if target is None or target == mod:
                continue
            dst = wing(target)
            if RANK[dst] > RANK[src] or (RANK[dst] == RANK[src] and dst != src):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {src} wing imports {target} ({dst} wing)")
    return sorted(set(bad))


def test_every_module_is_in_a_wing_and_only_the_base_and_the_facade_stay_loose():
    known = source_modules()
    loose = sorted(p.name for m, p in known.items() if p.parent == ROOT / "uara")
    assert set(loose) <= {"__init__.py", "__main__.py", "errors.py", "io.py", "export.py"}, loose
    for mod in known:
        wing(mod)


def test_no_upward_import():
    assert upward_imports(source_modules()) == []


def test_the_model_wing_imports_only_errors_and_io_of_uara():
    known = source_modules()
    for mod, path in known.items():
        if wing(mod) != "model":
            continue
        for name, line in imports(path, mod):
            target = resolve(name, known)
            assert target in LOOSE or (target or "").startswith("uara.model"), f"{path}:{line}: {name}"


def test_the_layering_check_catches_an_upward_import(tmp_path, monkeypatch):
    """Show that the rule bites: a model module that imports the solvers is reported."""
    known = source_modules()
    bad = tmp_path / "uara" / "model" / "sneaky.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("def f():\n    from uara.solvers import get_solver\n    return get_solver\n")
    stub = bad.parent / "solvers_stub.py"
    stub.write_text("")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert upward_imports({"uara.model.sneaky": bad, "uara.solvers": stub}) == [
        "uara/model/sneaky.py:2: model wing imports uara.solvers (solvers wing)"
    ]


def test_no_module_level_import_cycle():
    known = source_modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for mod, path in known.items():
        for name, _ in imports(path, mod, top_level_only=True):
            target = resolve(name, known)
            if target and target != mod:
                graph[mod].add(target)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("module-level import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for mod in sorted(known):
        if mod not in state:
            visit(mod)


def test_no_two_modules_share_a_name():
    names: dict[str, list[str]] = defaultdict(list)
    for mod, path in source_modules().items():
        if path.name not in ("__init__.py", "__main__.py"):
            names[path.stem].append(str(path.relative_to(ROOT)))
    assert {k: v for k, v in names.items() if len(v) > 1} == {}


def test_each_format_tag_is_spelled_in_exactly_one_source_module():
    """uara.model.shared.formats states every tag; readers and writers use its constants, never the string."""
    import re

    spelled: dict[str, set[str]] = defaultdict(set)
    for mod, path in source_modules().items():
        for tag in re.findall(r"uara-[a-z][a-z0-9-]*/\d+", path.read_text()):
            spelled[tag].add(mod)
    assert spelled, "no format tag found at all"
    assert {tag: sorted(mods) for tag, mods in spelled.items() if mods != {"uara.model.shared.formats"}} == {}


#: rooms inside a wing, lowest first; a room imports its own room and the rooms below it (peers of one
#: rank, e.g. P1's and the pipeline's back-ends, never import each other)
ROOMS = {
    "psd": {"simulation": 0, "draft_length": 0, "workload": 1, "batched_latency": 2, "latency": 3, "server_configs": 4, "latency_floor": 5,
            "latency_surrogate": 6, "measure": 7, "testbed": 8, "": 9},
    # latency-aware UARA starts from P1 back-ends through the registry (the package root); the export hands
    # P1's models (core, p1.exact) to other solvers
    "solvers": {"options": 0, "driver": 1, "core": 2, "base": 3, "p1": 4, "pipeline": 4, "model_export": 5, "": 5,
                "latency": 6},
}


def room(module: str) -> tuple[str, str] | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in ROOMS:
        return None
    return parts[1], parts[2] if len(parts) > 2 else ""


def room_violations(known: dict[str, Path]) -> list[str]:
    bad = []
    for mod, path in known.items():
        src = room(mod)
        if src is None:
            continue
        for name, line in imports(path, mod):
            target = resolve(name, known)
            dst = room(target) if target else None
            if dst is None or dst[0] != src[0] or dst[1] == src[1]:
                continue
            ranks = ROOMS[src[0]]
            if ranks[dst[1]] >= ranks[src[1]]:
                bad.append(f"{path.relative_to(ROOT)}:{line}: room {src[0]}/{src[1] or '__init__'} imports {target}")
    return sorted(set(bad))


def test_rooms_inside_psd_and_solvers_are_ranked():
    known = source_modules()
    for mod in known:
        r = room(mod)
        if r is not None:
            assert r[1] in ROOMS[r[0]], f"{mod}: not in a known room of {r[0]} (add it to ROOMS)"
    assert room_violations(known) == []


def test_no_lazy_import_cycle_inside_a_wing():
    """Every import counts here, also one inside a function: two modules of one wing may not import each other."""
    known = source_modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for mod, path in known.items():
        for name, _ in imports(path, mod):
            target = resolve(name, known)
            if target and target != mod and wing(target) == wing(mod) and not mod.startswith(target + "."):
                graph[mod].add(target)
    pairs = sorted(f"{a} <-> {b}" for a in graph for b in graph[a] if a < b and a in graph.get(b, ()))
    assert pairs == []


def test_no_folder_holds_more_than_ten_modules():
    crowded = {}
    for folder in ("uara", "solvers", "psd"):
        for d in [ROOT / folder, *[p for p in (ROOT / folder).rglob("*") if p.is_dir()]]:
            n = len(list(d.glob("*.py")))
            if n > 10 and d != ROOT / "uara" / "cli":  # uara/cli: one module per subcommand
                crowded[str(d.relative_to(ROOT))] = n
    assert crowded == {}


#: the house's size rules (docs/architecture.md): a module does one job, a function fits on a screen
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def oversized(known: dict[str, Path]) -> list[str]:
    """Modules over MAX_MODULE_LINES lines and functions (methods included) over MAX_FUNCTION_LINES."""
    bad = []
    for mod, path in known.items():
        text = path.read_text()
        n = len(text.splitlines())
        if n > MAX_MODULE_LINES:
            bad.append(f"{path.relative_to(ROOT)}: {n} lines")
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.name} is {length} lines")
    return sorted(bad)


def test_no_module_over_500_lines_and_no_function_over_80():
    assert oversized(source_modules()) == []


def test_the_size_rule_catches_a_long_function(tmp_path, monkeypatch):
    long = tmp_path / "uara" / "model" / "long.py"
    long.parent.mkdir(parents=True)
    long.write_text("def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES)
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert oversized({"uara.model.long": long}) == [f"uara/model/long.py:1: f is {MAX_FUNCTION_LINES + 1} lines"]
