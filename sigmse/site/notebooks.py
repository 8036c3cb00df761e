"""Run the chapter notebooks with papermill (https://papermill.readthedocs.io/), and tidy each executed copy.

papermill runs each notebook in its own folder into ``_build/executed/<toc path>.ipynb``. This module adds: a bad
``-p`` value fails before any work (:func:`plan_notebook_runs`); notebooks run ``jobs`` at a time, a failure naming
the notebook, cell and exception (:func:`run_notebooks`); each executed copy gets its inputs hidden, papermill's
injected cell replaced by a dropdown of how the page was made (papermill #731), and must glue its chapter's verdict
keys; with ``--only`` the other chapters reuse an earlier build of the profile or are left out.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterator

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

import sigmse
from sigmse.checks import check_like
from sigmse.provenance import machine, source_commit, utc_now
from sigmse.runs.experiments import CHAPTERS
from sigmse.site.pages import BookBuildError, ChapterNotebook

__all__ = ["CORE_PARAMETERS", "plan_notebook_runs", "run_notebooks", "left_out_chapters"]

# The parameters every chapter notebook declares in its `parameters` cell (tests/test_notebook_runs.py checks).
CORE_PARAMETERS = ("profile", "results_dir", "data_dir", "device")
KERNEL_NAME = "python3"
PROVENANCE_KEY = "sigmse"  # notebook metadata key: how the executed copy was made
_HIDDEN = {"hide-input", "hide-cell", "remove-input", "remove-cell"}  # inputs already hidden or gone


def _tags(cell: Any) -> list[str]:
    return cell.setdefault("metadata", {}).setdefault("tags", [])


def _check_extra(extra: dict[str, Any], declared: dict[str, dict[str, Any]]) -> None:
    """Check the ``-p`` parameters against what the notebooks declare (papermill reports defaults as source text)."""
    clash = sorted(set(extra) & set(CORE_PARAMETERS))
    if clash:
        raise ValueError(f"parameter {', '.join(map(repr, clash))} has its own option "
                         f"(--{clash[0].replace('_', '-')}); pass it that way, not with -p")
    known = sorted({name for params in declared.values() for name in params})
    if unknown := sorted(set(extra) - set(known)):
        raise ValueError(f"parameter {', '.join(map(repr, unknown))} is declared by none of the notebooks run; "
                         f"declared: {', '.join(known) or '(none)'}")
    for key, value in extra.items():
        for params in (params for params in declared.values() if key in params):
            check_like(f"parameter {key}", value, _literal(params[key].get("default")))


def _literal(source: Any) -> Any:
    """A default from its source text; ``None`` (anything goes) where it is not a literal."""
    try:
        return ast.literal_eval(str(source))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def plan_notebook_runs(selected: list[ChapterNotebook], core: dict[str, Any], extra: dict[str, Any],
                       staging: Path) -> list[dict[str, Any]]:
    """One papermill task per chapter, with only the parameters its ``parameters`` cell declares: ``core`` (``None``:
    the notebook's default) and the ``-p`` ``extra``, checked first. Executed copies go under ``staging``."""
    declared = {c.name: papermill.inspect_notebook(str(c.source)) for c in selected}
    _check_extra(extra, declared)
    wanted = {**{k: v for k, v in core.items() if v is not None}, **extra}
    tasks = []
    for chapter in selected:
        output = staging / (chapter.docpath + ".ipynb")
        if output.resolve() == chapter.source.resolve():
            raise ValueError(f"build_dir {str(staging.parent)!r} would put executed notebooks over the committed ones")
        defaults = {k: v.get("default") for k, v in declared[chapter.name].items()}
        tasks.append({"name": chapter.name, "source": str(chapter.source), "cwd": str(chapter.source.parent),
                      "output": str(output), "defaults": defaults,
                      "parameters": {k: v for k, v in wanted.items() if k in defaults}})
    return tasks


def _execute(task: dict[str, Any]) -> dict[str, Any]:
    """Run one notebook with papermill; return a summary (no exception escapes, in worker processes too). The
    kernel talks over Unix sockets (``ipc``), not TCP: it needs no port, and ipykernel does not warn of TCP."""
    start = time.perf_counter()
    Path(task["output"]).parent.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"name": task["name"], "output": task["output"], "ok": False, "cell_index": None}
    try:
        with tempfile.TemporaryDirectory(prefix="sigmse-kernel-") as sockets:
            papermill.execute_notebook(
                task["source"], task["output"], parameters=task["parameters"], kernel_name=KERNEL_NAME,
                cwd=task["cwd"], progress_bar=False, log_output=False,
                config=Config({"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "kernel")}}))
        summary["ok"] = True
    except PapermillExecutionError as error:
        summary.update(ename=error.ename, evalue=str(error.evalue), cell_index=error.cell_index,
                       exec_count=error.exec_count, cell_source=str(error.source))
    except Exception as error:  # kernel died, notebook unreadable, ...: still say which notebook
        summary.update(ename=type(error).__name__, evalue=str(error))
    summary["seconds"] = time.perf_counter() - start
    return summary


def _failure_message(summary: dict[str, Any], chapter: ChapterNotebook) -> str:
    """Which notebook, which cell, what exception, and where the failing copy is."""
    where = "while starting or running it"
    if summary["cell_index"] is not None:
        index = summary["cell_index"]
        cells = [c for c in nbformat.read(summary["output"], as_version=4).cells
                 if "papermill-error-cell-tag" not in _tags(c)]  # papermill's banners, added on failure
        number = index + 1 - any("injected-parameters" in _tags(c) for c in cells[:index])
        first_line = next((line for line in summary["cell_source"].splitlines() if line.strip()), "")
        where = (f"in cell {number} (counting every cell from 1; In [{summary['exec_count']}] in the executed "
                 f"copy), which starts {first_line[:80]!r}")
    return (f"notebook {chapter.docpath}.ipynb failed {where}: {summary['ename']}: {summary['evalue']}\n"
            f"  the executed notebook with the traceback is {summary['output']}")


def _execute_all(tasks: list[dict[str, Any]], jobs: int) -> Iterator[dict[str, Any]]:
    """Run the tasks (``jobs`` at a time, each in its own process) and yield their summaries as they finish; a
    failure cancels the tasks not started."""
    if jobs == 1 or len(tasks) <= 1:
        yield from map(_execute, tasks)
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_execute, task) for task in tasks]
        for future in as_completed(futures):
            summary = future.result()
            if not summary["ok"]:
                for other in futures:
                    other.cancel()
            yield summary


def _code(text: str) -> str:
    """``text`` as inline code that is safe inside a markdown table cell."""
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def _shown(value: Any, root: Path) -> str:
    """A given parameter for the provenance table; a path inside the book's folder relative to it."""
    if isinstance(value, str) and os.path.isabs(value):
        with contextlib.suppress(ValueError):
            value = Path(value).relative_to(root).as_posix() or "."
    return _code(repr(value))


def _provenance_markdown(meta: dict[str, Any], root: Path) -> str:
    host, commit = meta["machine"], meta["git_commit"]
    code = (f"sigmse {meta['sigmse_version']} at commit `{commit[:12]}`"
            + (" with uncommitted changes" if meta["git_dirty"] else "") if commit
            else f"sigmse {meta['sigmse_version']} (commit unknown)")
    rows = "\n".join(f"| `{key}` | {_shown(value, root)} | given |" if key in meta["given"]
                     else f"| `{key}` | {_code(str(value))} | default |"  # a default is the cell's source text
                     for key, value in meta["parameters"].items())
    return (":::{admonition} How this page was made\n:class: dropdown\n\n"
            f"Executed with papermill by `sigmse book --profile {meta['profile']}` on {meta['built_at']} "
            f"in {meta['seconds']:.0f} s.\n\n| parameter | value | |\n|---|---|---|\n{rows}\n\n"
            f"{code}; Python {host['python']}, torch {host['torch']}; {host['platform']}, "
            f"{host['cpu_count']} CPU cores, GPU: {host['gpus'] or 'none'}.\n:::")


def _postprocess(path: Path, meta: dict[str, Any], root: Path) -> None:
    """Hide every code input, remove papermill's injected cell and put the dropdown of how the page was made in its
    place (else after the title); ``meta`` also goes into the metadata."""
    nb = nbformat.read(str(path), as_version=4)
    insert_at = int(bool(nb.cells) and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.lstrip()[:1] == "#")
    for index, cell in enumerate(nb.cells):
        tags = _tags(cell)
        if "injected-parameters" in tags:
            tags.append("remove-cell")
            insert_at = index + 1
        elif cell.cell_type == "code" and not _HIDDEN & set(tags):
            tags.append("hide-input")
    nb.cells.insert(insert_at, nbformat.v4.new_markdown_cell(_provenance_markdown(meta, root),
                                                             metadata={"tags": ["sigmse-provenance"]}))
    nb.metadata[PROVENANCE_KEY] = meta
    nbformat.write(nb, str(path))


def _check_verdicts(chapter: ChapterNotebook, executed: Path) -> None:
    """The executed copy glued every verdict key of its chapter (the keys book/intro.md reads)."""
    glued = {output.get("metadata", {}).get("scrapbook", {}).get("name")
             for cell in nbformat.read(str(executed), as_version=4).cells if cell.cell_type == "code"
             for output in cell.get("outputs", [])}
    if missing := [key for key in getattr(CHAPTERS.get(chapter.name), "verdict_keys", ()) if key not in glued]:
        raise BookBuildError(f"notebook {chapter.docpath}.ipynb ran but did not glue {', '.join(map(repr, missing))},"
                             " which book/intro.md reads (see sigmse.runs.experiments.CHAPTERS); executed copy: "
                             f"{executed}")


def run_notebooks(tasks: list[dict[str, Any]], chapters: list[ChapterNotebook], jobs: int, profile: str,
                  root: Path) -> None:
    """Execute the tasks of :func:`plan_notebook_runs`, then tidy and check each executed copy; the first failure
    raises :class:`~sigmse.site.pages.BookBuildError`."""
    by_name, by_task = {c.name: c for c in chapters}, {t["name"]: t for t in tasks}
    made = {"profile": profile, "sigmse_version": sigmse.__version__, **source_commit(), "machine": machine(),
            "built_at": utc_now()}
    for summary in _execute_all(tasks, jobs):
        chapter, task = by_name[summary["name"]], by_task[summary["name"]]
        print(f"{chapter.name:<24} {summary['seconds']:8.1f} s  {'ok' if summary['ok'] else 'FAILED'}", file=sys.stderr)
        if not summary["ok"]:
            raise BookBuildError(_failure_message(summary, chapter))
        meta = dict(made, parameters={**task["defaults"], **task["parameters"]}, given=sorted(task["parameters"]),
                    seconds=round(summary["seconds"], 1))
        _postprocess(Path(summary["output"]), meta, root)
        _check_verdicts(chapter, Path(summary["output"]))


def _reusable(executed: Path, profile: str) -> bool:
    """An executed copy from an earlier build with the same profile."""
    try:
        meta = json.loads(executed.read_text(encoding="utf-8"))["metadata"].get(PROVENANCE_KEY, {})
    except (OSError, ValueError, KeyError):
        return False
    return meta.get("profile") == profile


def left_out_chapters(chapters: list[ChapterNotebook], selected: list[ChapterNotebook], staging: Path,
                      profile: str) -> set[str]:
    """The chapters not run now reuse their executed copy from an earlier build with this ``profile`` (checked as a
    new one is), or are left out; returns the toc paths of those left out."""
    chosen = {c.name for c in selected}
    reused = [c for c in chapters if c.name not in chosen and _reusable(staging / (c.docpath + ".ipynb"), profile)]
    missing = [c for c in chapters if c.name not in chosen and c not in reused]
    for chapter in reused:
        _check_verdicts(chapter, staging / (chapter.docpath + ".ipynb"))
    if reused:
        print(f"reusing executed {', '.join(c.name for c in reused)} from an earlier {profile!r} build",
              file=sys.stderr)
    if missing:
        print(f"leaving out {', '.join(c.name for c in missing)}: not run now and no earlier {profile!r} build; "
              "references to them stay unresolved", file=sys.stderr)
    return {c.docpath for c in missing}
