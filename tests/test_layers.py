"""The package's imports point one way: no cycle between modules, and no import up the layers.

Every import counts: at module level, inside functions (the heavy ones are
lazy), and under `TYPE_CHECKING`. The layers, lowest first, are the ones the
README's "Layout" section describes; a module may import its own layer and the
layers below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import reenact

PACKAGE = Path(reenact.__file__).parent

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "geometry", "sample_data", "output_paths", "__init__"),
    ("video_io",),
    ("params",),
    ("tracking",),
    ("facs",),
    ("recombine",),
    ("edits", "edits_file"),
    ("render",),
    ("nn",),
    ("model_folder",),
    ("runtime",),
    ("pipeline",),
    ("eval",),
    ("train",),
    ("api",),
    ("batch",),
    ("ui",),
    ("cli",),
)
"""Top-level modules and packages of `reenact`, lowest layer first."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The reenact modules `path` imports anywhere in its body (a `from package import module` names the module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("reenact")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reenact") and not node.level:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return found & set(modules)


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def layer_of(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    for index, layer in enumerate(LAYERS):
        if top in layer:
            return index
    raise AssertionError(f"{module} is in no layer of LAYERS: add its top-level name there")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated last), or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_lazy_and_type_only_imports() -> None:
    graph = import_graph()
    assert "reenact.tracking.tracker" in graph["reenact.train.run"], "a lazy import inside a function counts"
    assert "reenact.eval.results" in graph["reenact.eval.report"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_imports_point_down_the_layers() -> None:
    upward = sorted(
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {imported} ({LAYERS[layer_of(imported)][0]})"
        for module, imported_modules in import_graph().items()
        for imported in imported_modules
        if layer_of(imported) > layer_of(module)
    )
    assert not upward, "imports up the layers:\n" + "\n".join(upward)
