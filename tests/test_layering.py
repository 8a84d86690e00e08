"""The torch line (docs/architecture.md): what the dashboard may import, and what only workers import.

Torch-free: ``engine.config``, ``engine.store``, ``engine.control``,
``engine.diagnosis``, ``engine.datasets``, ``engine.tuning``, the ``engine.models`` registry, the
CLI's and the worker's entry modules, the ``gradclinic`` API package (torch loads on the first
``gradclinic.watch`` call), and every module of ``app/``. The training side (``engine.training``,
``engine.watch`` and the architecture files) imports torch and runs in worker processes, or in
the user's own process for a watched loop. Every module is found by walking the packages,
so a new module is checked without being listed here.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TORCH_FREE_PACKAGES = (
    "engine.config",
    "engine.store",
    "engine.control",
    "engine.diagnosis",
    "engine.datasets",
    "engine.tuning",
)
TORCH_FREE_MODULES = (
    "engine",
    "engine.cli",
    "engine.worker",
    "engine.models",
    "engine.training",
    "engine.training.probes",
    "gradclinic",  # the package itself: its submodules (a Lightning callback) may import what they need
)
APP_PACKAGES = ("app.logic", "app.components", "app.widgets")
APP_MODULES = ("app.ui",)
#: Plain modules: they must not need Streamlit either, so they are tested as plain Python.
PLAIN_PACKAGES = ("app.logic", "app.components")
TRAINING_SIDE = ("engine.training.", "engine.models.", "engine.watch", "torch")


def modules(packages: tuple[str, ...], singles: tuple[str, ...] = ()) -> list[str]:
    """Every module of ``packages`` (recursively) plus ``singles``, sorted."""
    found = set(singles)
    for package in packages:
        path = ROOT.joinpath(*package.split("."))
        found.add(package)
        for info in pkgutil.walk_packages([str(path)], prefix=f"{package}."):
            found.add(info.name)
    return sorted(found)


def _imported_in_fresh_python(names: list[str], also: str = "") -> set[str]:
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"{also}"
        "print(' '.join(sorted(m for m in ('torch', 'streamlit') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    return set(out.stdout.split())


def test_the_torch_free_side_and_the_app_never_import_torch():
    """Importing them, and validating every built-in recipe (registries, capabilities, dataset params)."""
    validate = (
        "from engine.config.recipe import list_recipe_names, load_recipe\n"
        "for name in list_recipe_names():\n"
        "    load_recipe(name)\n"
    )
    loaded = _imported_in_fresh_python(
        modules(TORCH_FREE_PACKAGES + APP_PACKAGES, TORCH_FREE_MODULES + APP_MODULES), also=validate
    )
    assert "torch" not in loaded


def test_page_logic_and_charts_are_plain_python():
    assert not {"torch", "streamlit"} & _imported_in_fresh_python(modules(PLAIN_PACKAGES))


def test_every_page_runs_without_importing_torch(tmp_path):
    """The pages themselves, run by Streamlit's AppTest against an empty store."""
    pages = sorted(
        str(p.relative_to(ROOT / "app")) for p in (ROOT / "app" / "views").glob("*.py") if p.name != "__init__.py"
    )
    main = str(ROOT / "app" / "main.py")
    run_pages = (
        "import os\n"
        f"os.environ['GRADCLINIC_HOME'] = {str(tmp_path)!r}\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"for page in {pages!r}:\n"
        f"    at = AppTest.from_file({main!r}, default_timeout=60); at.run()\n"
        "    at.switch_page(page); at.run()\n"
        "    assert not at.exception, (page, at.exception)\n"
    )
    assert "torch" not in _imported_in_fresh_python([], also=run_pages)


def _imports(path: Path, top_level_only: bool) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # module level, including under `if TYPE_CHECKING:` (never run, so allowed)
        nodes = [n for n in nodes if not (isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))]
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def _py_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


@pytest.mark.parametrize("path", _py_files(ROOT / "app"), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_in_the_app_imports_the_training_side(path):
    """Not even inside a function: the app talks to the engine through the torch-free packages."""
    bad = [
        f"line {n}: {name}"
        for n, name in _imports(path, top_level_only=False)
        if name == "torch" or name.startswith(TRAINING_SIDE)
    ]
    assert not bad, bad


@pytest.mark.parametrize(
    "path",
    [p for pkg in TORCH_FREE_PACKAGES for p in _py_files(ROOT.joinpath(*pkg.split(".")))]
    + [ROOT / "gradclinic" / "__init__.py"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_torch_free_packages_import_the_training_side_only_inside_the_functions_that_train(path):
    """A lesson runs training in-process, so it may import it where it does so, never at module level."""
    bad = [
        f"line {n}: {name}"
        for n, name in _imports(path, top_level_only=True)
        if name == "torch" or name.startswith(TRAINING_SIDE)
    ]
    assert not bad, bad
