"""The chapter notebooks as papermill runs them: each committed notebook is clean and declares the core
parameters, and the verdict keys the book's intro reads are the ones the notebooks glue.

The runs themselves (tags, provenance, failures) are exercised by the real builds of ``tests/test_book.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from sigmse.runs.experiments import CHAPTERS
from sigmse.site.notebooks import CORE_PARAMETERS

VERDICT_KEYS = {c.name: c.verdict_keys for c in CHAPTERS.values() if c.verdict_keys}

REPO = Path(__file__).resolve().parent.parent
COMMITTED = sorted((REPO / "notebooks").glob("*.ipynb"))
GLUE_REF = re.compile(r"\{glue:text\}`/notebooks/(\w+)\.ipynb::(\w+):s`")


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


@pytest.mark.parametrize("name", sorted(VERDICT_KEYS))
def test_committed_notebook_glues_its_verdict_keys(name):
    path = REPO / "notebooks" / f"{name}.ipynb"
    if not path.exists():
        pytest.skip(f"notebooks/{name}.ipynb is not written yet")
    source = "\n".join(c.source for c in nbformat.read(str(path), as_version=4).cells if c.cell_type == "code")
    # a claim-table row's five keys are glued by chapters.claim_cells from their prefix, e.g. f"claim_accuracy_{d}"
    missing = [key for key in VERDICT_KEYS[name]
               if key not in source and not (key.startswith("claim_") and "_".join(key.split("_")[:2]) in source)]
    assert not missing, f"notebooks/{name}.ipynb never mentions glue keys {missing} that book/intro.md reads"


def test_intro_reads_exactly_the_verdict_keys():
    refs = GLUE_REF.findall((REPO / "book" / "intro.md").read_text(encoding="utf-8"))
    assert {(nb, key) for nb, key in refs} == {(nb, key) for nb, keys in VERDICT_KEYS.items() for key in keys}


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
