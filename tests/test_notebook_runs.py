"""The chapter notebooks as papermill runs them: each committed notebook is clean and declares the core
parameters, defaults to the profile `make book` builds, and the verdict keys the book's intro reads are the
ones the notebooks glue. And the notebooks hold no logic: no code cell defines a function or class, and no
cell is copied from another notebook.

The runs themselves (tags, provenance, failures) are exercised by the real builds of ``tests/test_book.py``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from sigmse.runs.experiments import CHAPTERS
from sigmse.runs.profiles import profile_names
from sigmse.site.notebooks import CORE_PARAMETERS

VERDICT_KEYS = {c.name: c.verdict_keys for c in CHAPTERS.values() if c.verdict_keys}

REPO = Path(__file__).resolve().parent.parent
COMMITTED = sorted((REPO / "notebooks").glob("*.ipynb"))
GLUE_REF = re.compile(r"\{glue:text\}`/notebooks/(\w+)\.ipynb::(\w+):s`")
# The rule against copies: a cell of one notebook may not reappear in another, compared without blank lines,
# indentation, comment lines and (in code) import statements; cells left with one line (a heading, a call like
# plots.apply_style()) and the parameters cells (every chapter declares the same core parameters) are exempt.
# Nor may a run of COPIED_STATEMENTS consecutive code statements (imports aside) reappear inside other cells.
COPIED_STATEMENTS = 4


@pytest.mark.parametrize("path", COMMITTED or [None], ids=[p.name for p in COMMITTED] or ["no-notebooks-yet"])
def test_committed_notebook_is_clean_and_parameterised(path):
    if path is None:
        pytest.skip("no notebooks committed under notebooks/ yet")
    nb = nbformat.read(str(path), as_version=4)
    dirty = [i + 1 for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts; clear them before committing"
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'; exactly one is needed"
    assigned = set(re.findall(r"^(\w+)\s*(?::[^=]*)?=", tagged[0].source, flags=re.M))
    missing = [name for name in CORE_PARAMETERS if name not in assigned]
    assert not missing, f"{path.name}: the parameters cell does not declare {missing}"
    assert not [c for c in nb.cells if "injected-parameters" in c.get("metadata", {}).get("tags", [])], \
        f"{path.name}: has a papermill injected-parameters cell; commit the source, not an executed copy"


def _report_sources(code: str) -> str:
    """The source of every ``sigmse.report`` module the notebook code ``code`` imports (``from sigmse.report import
    a, b`` or ``from sigmse.report.a import ...``)."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.module == "sigmse.report":
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sigmse.report."):
            names.add(node.module.split(".")[2])
    folder = REPO / "sigmse" / "report"
    return "".join("\n" + (folder / f"{name}.py").read_text() for name in sorted(names)
                   if (folder / f"{name}.py").is_file())


@pytest.mark.parametrize("name", sorted(VERDICT_KEYS))
def test_committed_notebook_glues_its_verdict_keys(name):
    path = REPO / "notebooks" / f"{name}.ipynb"
    if not path.exists():
        pytest.skip(f"notebooks/{name}.ipynb is not written yet")
    source = "\n".join(c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code")
    source += _report_sources(source)  # a key glued from a page part (sigmse.report.analysis.Part) is named there
    # a claim-table row's five keys are glued by chapters.claim_cells from their prefix, e.g. f"claim_accuracy_{d}"
    missing = [key for key in VERDICT_KEYS[name]
               if key not in source and not (key.startswith("claim_") and "_".join(key.split("_")[:2]) in source)]
    assert not missing, f"notebooks/{name}.ipynb never mentions glue keys {missing} that book/intro.md reads"


def test_intro_reads_exactly_the_verdict_keys():
    refs = GLUE_REF.findall((REPO / "book" / "intro.md").read_text(encoding="utf-8"))
    assert {(nb, key) for nb, key in refs} == {(nb, key) for nb, keys in VERDICT_KEYS.items() for key in keys}


# ---------------------------------------------------------------------------------------------
# "Run all" reruns the page it came from: every notebook defaults to the profile `make book` builds

MAKEFILE_PROFILE = re.compile(r"^PROFILE\s*\?=\s*(\S+)\s*$", flags=re.M)


def _makefile_profile(makefile: str) -> str:
    """The profile named by the Makefile's one ``PROFILE ?= NAME`` line: the book ``make book`` builds."""
    found = MAKEFILE_PROFILE.findall(makefile)
    assert len(found) == 1, f"the Makefile has {len(found)} 'PROFILE ?=' lines; exactly one is expected"
    return found[0]


def _default_profile(nb: nbformat.NotebookNode) -> object:
    """The value the ``parameters`` cell assigns to ``profile`` (parsed, not executed), or None if it has none."""
    cell = next(c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    for node in ast.parse(cell.source).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "profile" for t in targets) and node.value is not None:
            return ast.literal_eval(node.value)
    return None


def _profile_mismatches(makefile: str, notebooks: dict[str, nbformat.NotebookNode]) -> list[str]:
    """``"NAME defaults to X"`` for every notebook whose ``profile`` default is not the Makefile's profile."""
    expected = _makefile_profile(makefile)
    return [f"{name} defaults to {_default_profile(nb)!r}" for name, nb in sorted(notebooks.items())
            if _default_profile(nb) != expected]


def test_every_notebook_defaults_to_the_profile_make_book_builds():
    """A reader who runs a chapter with papermill and no parameters, or presses "Run all" on Binder, gets the
    profile of the book they read, so the page comes back from its committed records (and not a retraining
    on another budget that shows other numbers)."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert _makefile_profile(makefile) in profile_names()
    notebooks = {path.name: nbformat.read(str(path), as_version=4) for path in COMMITTED}
    mismatches = _profile_mismatches(makefile, notebooks)
    assert not mismatches, (f"make book builds profile {_makefile_profile(makefile)!r} (Makefile 'PROFILE ?='), "
                            f"but {'; '.join(mismatches)}: set the parameters cell's default to it")


def test_the_default_profile_check_finds_a_mismatch():
    """The check above on a planted Makefile and notebooks: a plain and an annotated default are read, a
    notebook on another profile or with no profile default is reported, and a Makefile with no or two
    ``PROFILE ?=`` lines is refused."""
    new_nb, code = nbformat.v4.new_notebook, nbformat.v4.new_code_cell

    def planted(source: str) -> nbformat.NotebookNode:
        return new_nb(cells=[code("import sigmse"), code(source, metadata={"tags": ["parameters"]})])

    makefile = "PYTHON ?= python3\nPROFILE ?= full\nJOBS ?= 2\n\nbook:\n\tsigmse book --profile $(PROFILE)\n"
    assert _makefile_profile(makefile) == "full"
    notebooks = {"a.ipynb": planted('profile = "full"  # smoke | quick | full | paper\nresults_dir = "../results"'),
                 "b.ipynb": planted('profile: str = "full"'),
                 "c.ipynb": planted('results_dir = "../results"\nprofile = "quick"  # profile = "full" in a comment'),
                 "d.ipynb": planted('results_dir = "../results"')}
    assert _profile_mismatches(makefile, notebooks) == ["c.ipynb defaults to 'quick'", "d.ipynb defaults to None"]
    for broken in ("PYTHON ?= python3\n", "PROFILE ?= full\nPROFILE ?= quick\n"):
        with pytest.raises(AssertionError, match="'PROFILE \\?=' lines"):
            _makefile_profile(broken)


def test_kernels_talk_over_unix_sockets_so_ipykernel_has_no_tcp_warning(tmp_path, capfd):
    """ipykernel logs "Kernel is running over TCP without encryption" at the start of a tcp kernel; the
    book's kernels use the ipc transport in a folder of their own, and leave no socket file behind."""
    from sigmse.site.notebooks import _execute

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import json\nfrom ipykernel import get_connection_file\n"
        "print(json.load(open(get_connection_file()))['transport'])")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(tmp_path / "probe.ipynb"))
    summary = _execute({"name": "probe", "source": str(tmp_path / "probe.ipynb"), "cwd": str(tmp_path),
                        "output": str(tmp_path / "out" / "probe.ipynb"), "parameters": {}})
    assert summary["ok"], summary
    executed = nbformat.read(str(tmp_path / "out" / "probe.ipynb"), as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "ipc"
    captured = capfd.readouterr()
    assert "without encryption" not in captured.err + captured.out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "probe.ipynb"]  # no kernel-ipc-* sockets here


# ---------------------------------------------------------------------------------------------
# No logic in the notebooks (notebooks/README.md, rule 7)


def _definitions(nb: nbformat.NotebookNode) -> list[str]:
    """``"cell N: def name"`` for every function, lambda or class a code cell defines."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.append(f"cell {index}: {type(node).__name__} {node.name}")
            elif isinstance(node, ast.Lambda):
                found.append(f"cell {index}: lambda on line {node.lineno}")
    return found


def _imports(source: str) -> set[int]:
    """The line numbers of the cell's import statements."""
    return {line for node in ast.walk(ast.parse(source)) if isinstance(node, (ast.Import, ast.ImportFrom))
            for line in range(node.lineno, node.end_lineno + 1)}


def _compared(cell: nbformat.NotebookNode) -> tuple[str, ...]:
    """A cell's lines as the copy rule compares them (see the comment at COPIED_STATEMENTS)."""
    skip = _imports(cell.source) if cell.cell_type == "code" else set()
    lines = (line.strip() for number, line in enumerate(cell.source.splitlines(), 1) if number not in skip)
    return tuple(line for line in lines if line and not (cell.cell_type == "code" and line.startswith("#")))


def _statements(cell: nbformat.NotebookNode) -> list[str]:
    """A code cell's top-level statements other than imports, each as its unparsed source."""
    return [ast.unparse(node) for node in ast.parse(cell.source).body
            if not isinstance(node, (ast.Import, ast.ImportFrom))]


def _copies(notebooks: dict[str, nbformat.NotebookNode]) -> list[str]:
    """Every cell, and every run of COPIED_STATEMENTS statements, that appears in more than one notebook."""
    cells: dict[tuple[str, ...], set[str]] = {}
    runs: dict[tuple[str, ...], set[str]] = {}
    for name, nb in notebooks.items():
        for cell in nb.cells:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                continue
            lines = _compared(cell)
            if len(lines) >= 2:
                cells.setdefault(lines, set()).add(name)
            if cell.cell_type == "code":
                statements = _statements(cell)
                for start in range(len(statements) - COPIED_STATEMENTS + 1):
                    runs.setdefault(tuple(statements[start:start + COPIED_STATEMENTS]), set()).add(name)
    return ([f"a cell in {sorted(names)}, starting {lines[0]!r}" for lines, names in cells.items() if len(names) > 1]
            + [f"{COPIED_STATEMENTS} statements in {sorted(names)}, starting {run[0]!r}"
               for run, names in runs.items() if len(names) > 1])


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_no_committed_notebook_defines_a_function_lambda_or_class(path):
    found = _definitions(nbformat.read(str(path), as_version=4))
    assert not found, f"{path.name} defines {found}: move it into sigmse and call it from the notebook"


def test_no_cell_is_copied_from_one_notebook_to_another():
    copies = _copies({path.name: nbformat.read(str(path), as_version=4) for path in COMMITTED})
    assert not copies, f"copied between notebooks: {copies}; put what they share in sigmse"


def test_the_logic_checks_find_what_they_look_for():
    """The two checks above on planted notebooks: a def, a lambda and a class are found; a cell copied with
    other comments and imports is a copy, and so is a run of statements inside different cells; a shared
    one-line cell, a shared parameters cell and a shorter shared run are not."""
    new_nb, code, md = nbformat.v4.new_notebook, nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    logic = new_nb(cells=[code("def put(key, value):\n    pass"), code("key = sorted(xs, key=lambda x: -x)"),
                          code("class Row:\n    pass")])
    assert _definitions(logic) == ["cell 0: FunctionDef put", "cell 1: lambda on line 1", "cell 2: ClassDef Row"]
    assert _definitions(new_nb(cells=[code("lambda_min = 1  # def in a comment\ntext = 'def f(): lambda'")])) == []
    block = "a = f()\nb = g(a)\nc = h(b)\nd = k(c)"
    parameters = code('profile = "quick"\nresults_dir = "../results"', metadata={"tags": ["parameters"]})
    first = new_nb(cells=[parameters, code("import numpy\n" + block), md("## 1. Results"), code("x = 1\ny = 2\nz = 3")])
    second = new_nb(cells=[parameters, code("# the same\n" + block), md("## 1. Results"), code("w = 0\nx = 1\ny = 2")])
    assert _copies({"first": first, "second": second}) == [
        "a cell in ['first', 'second'], starting 'a = f()'",
        "4 statements in ['first', 'second'], starting 'a = f()'"]
    inside = new_nb(cells=[code("start = 0\n" + block + "\nend = 1")])
    assert _copies({"first": first, "inside": inside}) == ["4 statements in ['first', 'inside'], starting 'a = f()'"]
