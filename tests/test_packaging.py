"""The wheel a user installs with ``pip install sigmse``: what it ships and what it needs.

The wheel is built from the checkout the way pip builds it for a user, installed into a fresh folder,
and used from a process whose path holds that folder but not the checkout, so nothing can come from
the source tree. The core install (torch, torchvision, numpy, tqdm) must be enough for the losses, Output
Reset, training and the CLI; the plotting and book stacks are extras.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import sigmse

ROOT = Path(__file__).resolve().parents[1]
EXTRAS_ONLY = ("matplotlib", "seaborn", "pandas", "scipy", "papermill", "jupyter_book", "ray", "yaml")

# Run in the child: refuse every module of the extras, then use the installed package as a user would.
CORE_USE = f"""
import importlib.abc, sys
class RefuseExtras(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EXTRAS_ONLY!r}:
            raise ImportError(f"{{name}} belongs to an extra, not to the core install")
sys.meta_path.insert(0, RefuseExtras())

import torch
import sigmse, sigmse.losses.modules, sigmse.losses.output_reset, sigmse.train, sigmse.data.datasets, sigmse.cli
from sigmse.losses.modules import get_loss
logits = torch.randn(8, 10, requires_grad=True)
get_loss("sigmoid_mse_or")(logits, torch.randint(10, (8,))).backward()
assert logits.grad is not None and torch.isfinite(logits.grad).all()
print(sigmse.__file__)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from this checkout's sources (in an isolated build environment, as for a user).

    It builds from a copy, because setuptools leaves a ``build/`` folder in the tree it builds from.
    """
    source, dist = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    shutil.copytree(ROOT / "sigmse", source / "sigmse", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist),
                    str(source)], check=True, timeout=300, capture_output=True)
    (built,) = dist.glob("sigmse-*.whl")
    return built


def test_wheel_ships_the_package_and_its_type_marker_and_nothing_else(wheel: Path) -> None:
    """Every module of sigmse/, py.typed (PEP 561) and the licence are in the wheel; tests, notebooks and
    data are not."""
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {f"sigmse/{path.name}" for path in (ROOT / "sigmse").glob("*.py")}
    assert modules <= names, sorted(modules - names)
    assert "sigmse/py.typed" in names
    assert f"sigmse-{sigmse.__version__}.dist-info/licenses/LICENSE" in names
    assert {name.split("/")[0] for name in names} == {"sigmse", f"sigmse-{sigmse.__version__}.dist-info"}


@pytest.mark.slow
def test_installed_wheel_works_with_the_core_dependencies_only(wheel: Path, tmp_path: Path) -> None:
    """From the installed wheel, with every extra refused at import: a loss with Output Reset trains a step,
    and the CLI answers --help."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, timeout=300, capture_output=True)
    # -S: no site-packages processing, so the checkout's editable install (a .pth hook) is not seen; the
    # dependencies come from the folder that holds torch.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(Path(torch.__file__).parents[1])])}
    used = subprocess.run([sys.executable, "-S", "-c", CORE_USE], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert used.returncode == 0, used.stderr
    assert Path(used.stdout.strip()).is_relative_to(target)
    helped = subprocess.run([sys.executable, "-S", "-c", "import sys; from sigmse.cli import main; sys.exit(main())", "--help"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "sweep" in helped.stdout, helped.stderr


def _sigmse_imports(path: Path) -> tuple[set[str], set[str]]:
    """The sigmse modules ``path`` imports at its top level and inside functions (``TYPE_CHECKING`` blocks count)."""
    top, local = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sigmse"):
            names = [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("sigmse")]
        else:
            continue
        (top if node.col_offset == 0 else local).update(names)
    return top, local


def _module_of(name: str, modules: set[str]) -> str | None:
    """The module an imported dotted name lives in: ``sigmse.losses.functional`` or ``sigmse.losses`` (a package)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def test_the_package_has_no_import_cycle_and_local_imports_only_where_they_say_why():
    """Modules import each other in one direction (every top-level import, package __init__ files included, forms
    an acyclic graph), and a function-local import is left only in the CLI (start-up time) and in the book's CLI
    reference (sigmse.cli runs the book)."""
    package = ROOT / "sigmse"
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for p in package.rglob("*.py")}
    modules = set(files)
    graph = {}
    local_users = set()
    for name, path in files.items():
        top, local = _sigmse_imports(path)
        graph[name] = {m for m in (_module_of(i, modules) for i in top) if m and m != name}
        if local:
            local_users.add(name)
    assert local_users <= {"sigmse.cli", "sigmse.site.pages"}, local_users
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


# The package's one organising principle: layers. An import (top-level or local) only goes to its own layer or a
# lower one. Each chapter is found the same way: what it computes or trains in a layer-0 or layer-1 package, what
# its page shows in sigmse.report.
LAYERS = {
    0: {"sigmse", "sigmse.checks", "sigmse.config", "sigmse.seeds", "sigmse.provenance", "sigmse.calibration",
        "sigmse.models", "sigmse.train", "sigmse.losses", "sigmse.data", "sigmse.unification", "sigmse.landscape"},
    1: {"sigmse.runs", "sigmse.bench"},  # plan, store and train runs; time them
    2: {"sigmse.report"},  # read records into tables, verdicts and figures; never train
    3: {"sigmse.site"},  # the book
    4: {"sigmse.cli", "sigmse.commands"},
}


def _layer(module: str) -> int:
    unit = ".".join(module.split(".")[:2])
    return next(layer for layer, units in LAYERS.items() if unit in units)


def test_every_import_goes_down_the_layers():
    """No module imports one of a higher layer (sigmse.report never reaches the sweep engine's layer above it,
    and nothing below the book builder imports it or the CLI)."""
    package = ROOT / "sigmse"
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for p in package.rglob("*.py")}
    upward = []
    for name, path in sorted(files.items()):
        top, local = _sigmse_imports(path)
        for target in {m for m in (_module_of(i, set(files)) for i in top | local) if m}:
            if _layer(target) > _layer(name):
                upward.append(f"{name} (layer {_layer(name)}) -> {target} (layer {_layer(target)})")
    assert not upward, upward


def test_the_package_reads_as_its_architecture():
    """``ls sigmse/`` shows the subpackages and at most ten loose modules."""
    package = ROOT / "sigmse"
    subpackages = sorted(p.name for p in package.iterdir() if (p / "__init__.py").is_file())
    loose = sorted(p.name for p in package.glob("*.py"))
    assert subpackages == ["bench", "data", "landscape", "losses", "report", "runs", "site", "unification"]
    assert len(loose) <= 10, loose
