"""The package's import graph: the one-way flow of DESIGN.md (import-linter's contracts in pyproject.toml) and no
import cycle between any two modules."""

from __future__ import annotations

from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    adj = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index, low, on, stack, out, counter = {}, {}, set(), [], [], 0
    for root in sorted(adj):
        if root in index:
            continue
        work = [(root, iter(adj[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(adj[w])))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_no_module_imports_another_that_imports_it_back():
    assert _cycles(grimp.build_graph("vwbench")) == []


def test_cycle_finder_finds_a_planted_cycle():
    class Graph:
        modules = ("a", "b", "c", "d")

        def find_modules_directly_imported_by(self, m):
            return {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}[m]

    assert _cycles(Graph()) == [["a", "b", "c"]]


def test_import_linter_contracts_are_kept(monkeypatch):
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_a_back_arrow_breaks_a_layers_contract(tmp_path, monkeypatch):
    """The check can fail: in a throwaway package whose lower layer imports the upper one, lint-imports reports
    the contract broken."""
    from importlinter.cli import lint_imports

    pkg = tmp_path / "flowpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "upper.py").write_text("X = 1\n")
    (pkg / "lower.py").write_text("from flowpkg import upper\n")
    cfg = tmp_path / "contracts.toml"
    cfg.write_text(
        '[tool.importlinter]\nroot_package = "flowpkg"\n\n[[tool.importlinter.contracts]]\n'
        'name = "flow"\ntype = "layers"\nlayers = ["flowpkg.upper", "flowpkg.lower"]\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert lint_imports(config_filename=str(cfg), no_cache=True) == 1
