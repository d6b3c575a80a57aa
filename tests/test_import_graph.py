"""One-way imports: the module graph of ``msdf/`` and ``viscogrid/`` has no cycle and no edge viscogrid -> msdf.

Every ``import`` / ``from ... import`` statement counts, including the lazy ones inside functions, and so do the
``_LAZY`` tables of the packages' ``__init__`` modules (``msdf.lazy.lazy_attributes``). A package is not counted as
depending on its own ``__init__`` merely because a submodule lives in it.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("msdf", "viscogrid")


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def _lazy_table(tree: ast.Module) -> dict[str, str]:
    """``{name: module}`` of a module-level ``_LAZY = {...}`` dict literal (empty when there is none)."""
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in targets):
                return {k.value: v.value for k, v in zip(node.value.keys, node.value.values)
                        if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)}
    return {}


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (anywhere in its body)."""
    mods = _modules()
    trees = {name: ast.parse(path.read_text(), str(path)) for name, path in mods.items()}
    lazy = {name: _lazy_table(tree) for name, tree in trees.items()}

    def resolve(target: str) -> str | None:
        while target and target not in mods:
            target = target.rpartition(".")[0]
        return target or None

    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, tree in trees.items():
        is_pkg = mods[name].name == "__init__.py"
        edges = graph[name]
        edges.update(m for m in lazy[name].values() if m in mods)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                edges.update(filter(None, (resolve(a.name) for a in node.names)))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name if is_pkg else name.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}".strip(".")
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    if full in mods:
                        edges.add(full)
                    elif base in mods and alias.name in lazy[base]:
                        edges.add(lazy[base][alias.name])
                    elif resolve(base):
                        edges.add(resolve(base))
        edges.discard(name)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_graph_sees_lazy_imports():
    graph = import_graph()
    assert "msdf.decoder" in graph["msdf"]  # through the _LAZY table
    assert "msdf.flow.sampler" in graph["msdf"]


def test_no_import_cycle():
    cycle = _cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_viscogrid_imports_nothing_from_msdf():
    bad = sorted((a, b) for a, targets in import_graph().items() if a.startswith("viscogrid")
                 for b in targets if b.split(".")[0] == "msdf")
    assert not bad, f"viscogrid must be a leaf library: {bad}"


def test_viscogrid_runs_without_msdf():
    """The VisCo library reconstructs a surface with the ``msdf`` package made unimportable."""
    import subprocess
    import sys

    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "msdf" or name.startswith("msdf."):
            raise ImportError("msdf is blocked")
sys.meta_path.insert(0, Block())
import numpy as np
from viscogrid import reconstruct
from viscogrid.schedule import default_schedule
n = np.random.default_rng(0).normal(size=(400, 3)); n /= np.linalg.norm(n, axis=1, keepdims=True)
grid, mesh = reconstruct(n, n, resolution=16, schedule=default_schedule(16, 0.1), noise=0)
print(mesh.is_watertight, any(m.split('.')[0] == 'msdf' for m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]
