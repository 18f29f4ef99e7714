"""The import graph of ``neuromorph`` and ``quantization``: no cycles, imports only go down.

Every module is parsed with :mod:`ast` (nothing is imported), and every ``import`` statement
counts: at module level, inside functions and under ``if TYPE_CHECKING`` alike, absolute and
relative.  An import is an edge to the most specific module it names: ``from a.b import c`` is
an edge to ``a.b.c`` when that is a module, else to ``a.b`` (``c`` is then an attribute).  The
parent packages' ``__init__`` files, which Python also runs, are not counted: the ones here
hold no imports, and counting them would make every package look like a cycle with its children.
Modules loaded by name at run time (the CLI's tables, the study kinds) are no import edges.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterable, Mapping, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("neuromorph", "quantization")


def module_files(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> source file, for every ``.py`` file of ``packages`` under ``root``."""
    out = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _known_prefix(name: str, modules: Iterable[str]) -> Optional[str]:
    """The longest dotted prefix of ``name`` that is one of ``modules`` (None: outside them)."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        cand = ".".join(parts[:k])
        if cand in modules:
            return cand
    return None


def imports_of(source: str, module: str, is_package: bool, modules: Iterable[str]) -> set[str]:
    """The modules among ``modules`` that the code ``source`` of ``module`` imports anywhere.

    Parameters
    ----------
    source : Python source text.
    module : its dotted name (``pkg`` for ``pkg/__init__.py``), to resolve relative imports.
    is_package : whether ``source`` is a package's ``__init__.py``.
    modules : the dotted names of all modules of the graph.
    """
    modules = set(modules)
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        found.update(t for t in (_known_prefix(n, modules) for n in names) if t is not None)
    found.discard(module)
    return found


def import_graph(files: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the set of modules of ``files`` it imports (see :func:`imports_of`)."""
    return {mod: imports_of(path.read_text(encoding="utf-8"), mod, path.name == "__init__.py", files)
            for mod, path in files.items()}


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle ``[a, b, …, a]`` per strongly connected component that has one (Tarjan's
    algorithm, then a breadth-first path from the component's first node back to itself);
    empty when the graph is acyclic.  Nodes only named as targets count as nodes too."""
    nodes = sorted(set(graph) | {t for ts in graph.values() for t in ts})
    succ = {n: sorted(graph.get(n, ())) for n in nodes}
    index, low, on_stack, stack, comps = {}, {}, set(), [], []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in succ[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            comps.append(comp)

    for n in nodes:
        if n not in index:
            strongconnect(n)
    cycles = []
    for comp in comps:
        start = min(comp)
        if len(comp) == 1 and start not in succ[start]:
            continue
        prev, frontier, end = {}, [start], None
        while frontier and end is None:  # BFS inside the component for the shortest way back
            nxt = []
            for v in frontier:
                for w in succ[v]:
                    if w == start:
                        end = v
                        break
                    if w in comp and w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if end is not None:
                    break
            frontier = nxt
        path = [start]
        v = end
        while v != start:
            path.append(v)
            v = prev[v]
        cycles.append([start] + path[:0:-1] + [start])
    return sorted(cycles)


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


# (importing package, forbidden imported packages): the layers of the data flow
FORBIDDEN = [
    ("quantization", ("neuromorph",)),
    ("neuromorph.sim", ("neuromorph.stages", "neuromorph.quant", "neuromorph.backends", "neuromorph.commands",
                        "neuromorph.cli")),
    ("neuromorph.quant", ("neuromorph.stages", "neuromorph.commands", "neuromorph.cli")),
    ("neuromorph.backends", ("neuromorph.stages", "neuromorph.commands", "neuromorph.cli")),
]


def layer_violations(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """``"a -> b"`` for every edge against :data:`FORBIDDEN`, and for every import of
    ``neuromorph.experiments`` from outside it (the experiments are a leaf of the product)."""
    bad = []
    for mod, targets in sorted(graph.items()):
        for t in sorted(targets):
            if _under(t, "neuromorph.experiments") and not _under(mod, "neuromorph.experiments"):
                bad.append(f"{mod} -> {t}")
            for src, banned in FORBIDDEN:
                if _under(mod, src) and any(_under(t, b) for b in banned):
                    bad.append(f"{mod} -> {t}")
    return bad


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(module_files())


# ------------------------------------------------------------------------------- the project itself

def test_graph_covers_the_packages(graph):
    # guards against a walker that silently finds nothing (then every check below would pass)
    assert {"neuromorph.cli", "neuromorph.sim.simulator", "quantization.hardware"} <= set(graph)
    assert "neuromorph.sim.kernels" in graph["neuromorph.sim.simulator"]
    assert "neuromorph.stages.quantize" in graph["neuromorph.stages.pipeline"]


def test_no_import_cycles(graph):
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_imports_only_go_down(graph):
    bad = layer_violations(graph)
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


# ------------------------------------------------------------------------------- the checker itself

def test_find_cycles_on_a_synthetic_graph():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"d"}}
    assert find_cycles(g) == [["a", "b", "c", "a"], ["e", "e"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    # two cycles through one node form one component; one of them is reported
    assert find_cycles({"a": {"b", "c"}, "b": {"a"}, "c": {"a"}}) == [["a", "b", "a"]]


def test_imports_of_resolves_relative_function_level_and_from_imports():
    mods = {"p", "p.a", "p.b", "p.sub", "p.sub.c"}
    src = ("import os\n"
           "from . import b\n"
           "def f():\n"
           "    from .sub.c import thing\n"
           "    import p.sub\n"
           "if False:\n"
           "    from p import a\n")
    assert imports_of(src, "p.a", False, mods) == {"p.b", "p.sub.c", "p.sub"}  # itself excluded
    # from p.sub.c: ".." is p, "..sub" is p.sub, and p.sub.c importing itself is no edge
    assert imports_of("from .. import b\nfrom ..sub import c\n", "p.sub.c", False, mods) == {"p.b"}
    assert imports_of("from . import c, x\n", "p.sub", True, mods) == {"p.sub.c"}  # x: an attribute of p.sub


def test_checker_finds_a_function_level_cycle_and_a_layer_violation(tmp_path):
    pkg = tmp_path / "neuromorph"
    (pkg / "sim").mkdir(parents=True)
    (pkg / "stages").mkdir()
    for d in (pkg, pkg / "sim", pkg / "stages"):
        (d / "__init__.py").write_text("")
    (pkg / "sim" / "x.py").write_text("from neuromorph.stages import y\n")
    (pkg / "stages" / "y.py").write_text("def g():\n    from ..sim.x import h\n")
    g = import_graph(module_files(tmp_path, ("neuromorph",)))
    assert find_cycles(g) == [["neuromorph.sim.x", "neuromorph.stages.y", "neuromorph.sim.x"]]
    assert layer_violations(g) == ["neuromorph.sim.x -> neuromorph.stages.y"]
    (pkg / "stages" / "z.py").write_text("import neuromorph.experiments.fig2\n")
    (pkg / "experiments").mkdir()
    (pkg / "experiments" / "__init__.py").write_text("")
    (pkg / "experiments" / "fig2.py").write_text("from neuromorph.stages import z\n")
    g = import_graph(module_files(tmp_path, ("neuromorph",)))
    assert "neuromorph.stages.z -> neuromorph.experiments.fig2" in layer_violations(g)
    assert not any(v.startswith("neuromorph.experiments") for v in layer_violations(g))
