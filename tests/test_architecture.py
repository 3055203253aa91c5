"""The dependency rule, on every import of facerec's code (at any depth, lazy ones included):
interfaces -> applications -> the recognizer -> the stages -> the store and the runtime -> types
and errors; the networks never import the store; the store never imports torch; no module reaches
for another's private (underscored) names."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Highest first: a module may import its own layer and the layers below it, never one above.
LAYERS = [
    ("interfaces", ("cli", "facerec.interfaces")),
    ("applications", ("facerec.attendance", "facerec.training", "facerec.events")),
    ("recognizer", ("facerec.recognizer", "facerec")),  # facerec/__init__.py: the public API
    ("stages", ("facerec.detection", "facerec.embedding", "facerec.liveness", "facerec.identity")),
    ("store and runtime", ("facerec.store", "facerec.runtime")),
    ("types and errors", ("facerec.types", "facerec.errors", "facerec.images", "facerec.files", "facerec.annotate")),
]
# Within the stages, a stage may use those before it in this order (identity compares embeddings).
STAGES = ("facerec.detection", "facerec.embedding", "facerec.liveness", "facerec.identity")
NETWORKS = ("facerec.detection.mtcnn.nets", "facerec.embedding.facenet", "facerec.embedding.finetuned",
            "facerec.liveness.nets", "facerec.runtime.torch_backend")  # fmt: skip


def _modules() -> dict[str, Path]:
    found = {"cli": REPO / "cli.py"}
    for path in sorted((REPO / "facerec").rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """Every module ``name`` imports (facerec's own resolved to modules; others by top-level name)."""
    tree = ast.parse(MODULES[name].read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    return {m if m.startswith("facerec") else m.split(".")[0] for m in found}


IMPORTS = {name: _imports(name) for name in MODULES}


def _layer(module: str) -> int:
    best = max(
        ((i, prefix) for i, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes if _within(module, prefix)),
        key=lambda hit: len(hit[1]),
    )
    return best[0]


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _closure(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        for imported in IMPORTS.get(module, ()):
            if imported in MODULES and imported not in seen:
                seen.add(imported)
                todo.append(imported)
    return seen


def test_every_module_belongs_to_a_layer():
    assert len(MODULES) > 50
    for module in MODULES:
        assert _layer(module) is not None, module


def test_imports_point_down_the_layers():
    upward = []
    for module, imports in IMPORTS.items():
        for imported in imports:
            if imported in MODULES and _layer(imported) < _layer(module):
                upward.append(
                    f"{module} ({LAYERS[_layer(module)][0]}) imports {imported} ({LAYERS[_layer(imported)][0]})"
                )
    assert upward == []


def test_stages_use_only_the_stages_before_them():
    def stage(module: str) -> int | None:
        return next((i for i, prefix in enumerate(STAGES) if _within(module, prefix)), None)

    backwards = [
        f"{module} imports {imported}"
        for module, imports in IMPORTS.items()
        for imported in imports
        if imported in MODULES and stage(module) is not None and (stage(imported) or -1) > stage(module)
    ]
    assert backwards == []


def test_the_networks_never_import_the_store():
    for network in NETWORKS:
        assert network in MODULES, network
        assert not any(_within(m, "facerec.store") for m in _closure(network)), network


def test_the_store_never_imports_torch():
    store = [m for m in MODULES if _within(m, "facerec.store")]
    assert len(store) >= 7
    for module in store:
        reached = {module} | _closure(module)
        with_torch = sorted(m for m in reached if "torch" in IMPORTS.get(m, ()))
        assert with_torch == [], (module, with_torch)


# namedtuple's public methods start with an underscore so as not to clash with field names.
PUBLIC_UNDERSCORED = {"_replace", "_asdict", "_fields", "_make"}


def _defined_here(tree: ast.AST) -> set[str]:
    """Private names a module defines itself (functions, classes, attributes it assigns)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return {name for name in names if name.startswith("_")}


def test_private_names_stay_in_their_module():
    """A leading underscore means "this module's business": another module that needs the name
    needs it public (named, documented, kept), not reached into."""
    crossing = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text())
        own = _defined_here(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("facerec"):
                crossing += [
                    f"{module} imports {node.module}.{alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                mine = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
                if not mine and node.attr not in own and node.attr not in PUBLIC_UNDERSCORED:
                    crossing.append(f"{module}:{node.lineno} reaches {ast.unparse(node)}")
    assert crossing == []
