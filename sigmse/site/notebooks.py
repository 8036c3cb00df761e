"""Run the chapter notebooks with papermill, and record on each executed copy how it was made.

:func:`sigmse.site.book.build_book` plans and runs the chapters through this module:

1. :func:`plan_notebook_runs`: one papermill task per chapter, with only the parameters its ``parameters``
   cell declares: ``profile``, ``results_dir``, ``data_dir``, ``device`` (:data:`CORE_PARAMETERS`) and any
   ``-p KEY=VALUE``. The executed copy goes to ``_build/executed/<toc path>.ipynb``; the committed sources
   are never written.
2. :func:`run_notebooks`: each notebook runs with papermill in its own folder (Jupyter Book's
   ``run_in_temp: false`` convention), in order or ``jobs`` at a time, each in its own process and kernel.
   Training is cached in the results store, so a rerun only re-plots. The first failure stops the build,
   naming the notebook, the cell, the exception and the executed copy.
3. Each executed copy is tidied (:func:`_postprocess`): every code input goes behind a click
   (``hide-input``), the papermill ``injected-parameters`` cell is removed from the page (papermill does
   not copy the ``parameters`` tags, papermill #731) and a dropdown in its place records how the page was
   made (parameters, sigmse commit, machine); the same goes into the notebook's metadata. Then the copy
   must have glued its :attr:`~sigmse.runs.experiments.Chapter.verdict_keys`. Kernels talk over Unix sockets (:func:`_kernel_config`).
4. :func:`left_out_chapters`: a chapter not run now (``--only``) reuses its executed copy from an earlier
   build with the same profile, or is left out of the book.

Reference: papermill, https://papermill.readthedocs.io/.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import sigmse
from sigmse.checks import check_like
from sigmse.provenance import machine, source_commit, utc_now
from sigmse.runs import experiments
from sigmse.site.pages import BookBuildError, Chapter

__all__ = [
    "CORE_PARAMETERS",
    "plan_notebook_runs",
    "run_notebooks",
    "left_out_chapters",
]

# The parameters every chapter notebook declares in its `parameters` cell (tests/test_notebook_runs.py checks).
CORE_PARAMETERS = ("profile", "results_dir", "data_dir", "device")

KERNEL_NAME = "python3"
PROVENANCE_KEY = "sigmse"  # notebook metadata key holding how the executed copy was made
# Tags after which a code cell's input is already hidden or gone: _postprocess adds no hide-input then.
_HIDDEN_INPUT_TAGS = {"hide-input", "hide-cell", "remove-input", "remove-cell"}


# ---------------------------------------------------------------------------------------------
# Planning


def _declared(chapter: Chapter) -> dict[str, Any]:
    import papermill

    return dict(papermill.inspect_notebook(str(chapter.source)))


def _check_extra(extra: dict[str, Any], declared: dict[str, dict[str, Any]]) -> None:
    clash = sorted(set(extra) & set(CORE_PARAMETERS))
    if clash:
        raise ValueError(f"parameter {', '.join(map(repr, clash))} has its own option "
                         f"(--{clash[0].replace('_', '-')}); pass it that way, not with -p")
    known = sorted({name for params in declared.values() for name in params})
    unknown = sorted(set(extra) - set(known))
    if unknown:
        raise ValueError(f"parameter {', '.join(map(repr, unknown))} is declared by none of the notebooks run; "
                         f"declared: {', '.join(known) or '(none)'}")
    for key, value in extra.items():
        for params in declared.values():
            if key in params:
                check_like(f"parameter {key}", value, _literal(params[key].get("default")))


def _literal(source: Any) -> Any:
    """A ``parameters`` cell's default from its source text (papermill reports text); ``None`` if not a literal."""
    try:
        return ast.literal_eval(str(source))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def plan_notebook_runs(selected: list[Chapter], core: dict[str, Any], extra: dict[str, Any],
                       staging: Path) -> list[dict]:
    """One papermill task per chapter, with only the parameters its ``parameters`` cell declares.

    ``core`` holds the :data:`CORE_PARAMETERS` (``None``: the notebook's default), ``extra`` the ``-p``
    parameters, each of which some selected notebook must declare; executed copies go under ``staging``.
    """
    declared = {c.name: _declared(c) for c in selected}
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


# ---------------------------------------------------------------------------------------------
# Execution


def _kernel_config(sockets: Path) -> Any:
    """The kernel talks to papermill over Unix sockets in ``sockets``, not over TCP.

    With jupyter_client's default ``tcp`` transport, ipykernel logs "Kernel is running over TCP without
    encryption" at every start: a local kernel has no need of a network port. The ``ipc`` socket paths
    start with ``KernelManager.ip``; a folder of its own per run keeps notebooks run at once in one
    folder apart (left to the default, every kernel would use ``./kernel-ipc-1`` ... in its cwd).
    """
    from traitlets.config import Config

    return Config({"KernelManager": {"transport": "ipc", "ip": str(sockets / "kernel")}})


def _execute(task: dict[str, Any]) -> dict[str, Any]:
    """Run one notebook with papermill; return a summary (also in worker processes, so no exception escapes)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    start = time.perf_counter()
    output = Path(task["output"])
    output.parent.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"name": task["name"], "output": str(output)}
    try:
        with tempfile.TemporaryDirectory(prefix="sigmse-kernel-") as sockets:
            papermill.execute_notebook(
                task["source"], str(output), parameters=task["parameters"], kernel_name=KERNEL_NAME,
                cwd=task["cwd"], progress_bar=False, log_output=False, config=_kernel_config(Path(sockets)),
            )
    except PapermillExecutionError as error:
        summary.update(ok=False, ename=error.ename, evalue=str(error.evalue), cell_index=error.cell_index,
                       exec_count=error.exec_count, cell_source=str(error.source))
    except Exception as error:  # kernel died, notebook unreadable, ...: still report which notebook
        summary.update(ok=False, ename=type(error).__name__, evalue=str(error), cell_index=None,
                       exec_count=None, cell_source="")
    else:
        summary["ok"] = True
    summary["seconds"] = time.perf_counter() - start
    return summary


def _failure_message(summary: dict[str, Any], chapter: Chapter, root: Path) -> str:
    """Which notebook, which cell, what exception, and where the failing copy is."""
    where = "while starting or running it"
    if summary["cell_index"] is not None:
        number = _source_cell_number(Path(summary["output"]), summary["cell_index"])
        first_line = next((line for line in summary["cell_source"].splitlines() if line.strip()), "")
        where = (f"in cell {number} (counting every cell from 1; In [{summary['exec_count']}] in the executed "
                 f"copy), which starts {first_line[:80]!r}")
    return (f"notebook {chapter.source.relative_to(root).as_posix()} failed {where}: "
            f"{summary['ename']}: {summary['evalue']}\n"
            f"  the executed notebook with the traceback is {summary['output']}")


def _source_cell_number(executed: Path, cell_index: int) -> int:
    """1-based number of the failing cell in the committed notebook (papermill adds an injected cell)."""
    try:
        import nbformat

        cells = nbformat.read(str(executed), as_version=4).cells
        cells = [c for c in cells if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])]
        injected = [i for i, c in enumerate(cells) if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    except Exception:
        return cell_index + 1
    return cell_index + 1 - sum(1 for i in injected if i < cell_index)


def _progress(total: int, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="notebook", file=sys.stderr, dynamic_ncols=True)


def _execute_all(tasks: list[dict[str, Any]], jobs: int, bar: Any) -> Iterable[dict[str, Any]]:
    """Run the tasks (in order, or ``jobs`` at a time) and yield their summaries as they finish."""
    def report(summary: dict[str, Any]) -> dict[str, Any]:
        status = "ok" if summary["ok"] else f"FAILED ({summary['ename']})"
        bar.write(f"{summary['name']:<24} {summary['seconds']:8.1f} s  {status}", file=sys.stderr)
        bar.update(1)
        return summary

    if jobs == 1 or len(tasks) <= 1:
        for task in tasks:
            bar.set_postfix_str(task["name"])
            yield report(_execute(task))
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_execute, task) for task in tasks]
        for future in as_completed(futures):
            summary = report(future.result())
            if not summary["ok"]:
                for other in futures:
                    other.cancel()
            yield summary


# ---------------------------------------------------------------------------------------------
# Provenance and post-processing


def _provenance(profile: str) -> dict[str, Any]:
    return {"profile": profile, "sigmse_version": sigmse.__version__, **source_commit(), "machine": machine(),
            "built_at": utc_now()}


def _shown(value: Any, root: Path) -> str:
    """A parameter value for the provenance table: paths inside the book's folder shown relative to it."""
    if isinstance(value, str) and os.path.isabs(value):
        with contextlib.suppress(ValueError):  # outside the book's folder: shown as is
            value = Path(value).relative_to(root).as_posix() or "."
    return _code(repr(value))


def _code(text: str) -> str:
    """``text`` as inline code that is safe inside a markdown table cell."""
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def _provenance_markdown(meta: dict[str, Any], root: Path) -> str:
    machine = meta["machine"]
    commit = meta["git_commit"]
    code = (f"sigmse {meta['sigmse_version']} at commit `{commit[:12]}`"
            + (" with uncommitted changes" if meta["git_dirty"] else "") if commit
            else f"sigmse {meta['sigmse_version']} (commit unknown)")
    rows = "\n".join(
        f"| `{key}` | {_shown(value, root)} | given |" if key in meta["given"]
        else f"| `{key}` | {_code(str(value))} | default |"  # a default is the cell's source text
        for key, value in meta["parameters"].items())
    return (
        ":::{admonition} How this page was made\n:class: dropdown\n\n"
        f"Executed with papermill by `sigmse book --profile {meta['profile']}` on {meta['built_at']} "
        f"in {meta['seconds']:.0f} s.\n\n"
        "| parameter | value | |\n|---|---|---|\n" + rows + "\n\n"
        f"{code}; Python {machine['python']}, torch {machine['torch']}; {machine['platform']}, "
        f"{machine['cpu_count']} CPU cores, GPU: {machine['gpus'] or 'none'}.\n:::"
    )


def _postprocess(path: Path, meta: dict[str, Any], root: Path) -> None:
    """Tidy an executed copy for readers: code behind a click, the injected cell gone, provenance added.

    * Every code cell's input is tagged ``hide-input`` (Jupyter Book shows it one click away): a reader
      of a paper's companion reads prose, figures and tables; the code is there for whoever asks.
    * papermill's ``injected-parameters`` cell is tagged ``remove-cell`` (papermill does not copy the
      ``parameters`` cell's tags, papermill #731): the values it set are in the dropdown, with the others.
    * A dropdown after it records how the page was made; the same goes into the notebook's metadata.
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    insert_at = None
    for index, cell in enumerate(nb.cells):
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags:
            if "remove-cell" not in tags:
                tags.append("remove-cell")
            insert_at = index + 1
        elif cell.cell_type == "code" and not _HIDDEN_INPUT_TAGS & set(tags):
            tags.append("hide-input")
    if insert_at is None:  # no parameters: after the title cell if the notebook starts with one
        first = nb.cells[0] if nb.cells else None
        insert_at = 1 if first is not None and first.cell_type == "markdown" and \
            first.source.lstrip().startswith("#") else 0
    note = nbformat.v4.new_markdown_cell(_provenance_markdown(meta, root))
    note.metadata["tags"] = ["sigmse-provenance"]
    nb.cells.insert(insert_at, note)
    nb.metadata[PROVENANCE_KEY] = meta
    nbformat.write(nb, str(path))


def _glued_keys(path: Path) -> set[str]:
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    return {output.get("metadata", {}).get("scrapbook", {}).get("name")
            for cell in nb.cells if cell.cell_type == "code"
            for output in cell.get("outputs", [])} - {None}


def _check_verdicts(chapter: Chapter, executed: Path) -> None:
    registered = experiments.CHAPTERS.get(chapter.name)
    missing = [key for key in (registered.verdict_keys if registered else ()) if key not in _glued_keys(executed)]
    if missing:
        raise BookBuildError(
            f"notebook {chapter.docpath}.ipynb ran but did not glue {', '.join(map(repr, missing))}, which "
            f"book/intro.md reads (see sigmse.runs.experiments.CHAPTERS); executed copy: {executed}")


def _reusable(executed: Path, profile: str) -> bool:
    """An executed copy from an earlier successful build with the same profile."""
    if not executed.is_file():
        return False
    try:
        meta = json.loads(executed.read_text(encoding="utf-8")).get("metadata", {}).get(PROVENANCE_KEY, {})
    except (OSError, ValueError):
        return False
    return meta.get("profile") == profile


# ---------------------------------------------------------------------------------------------
# The chapters of a build


def run_notebooks(tasks: list[dict], chapters: list[Chapter], jobs: int, profile: str, root: Path) -> None:
    """Execute the tasks of :func:`plan_notebook_runs` (``jobs`` at a time), then tidy and check each executed
    copy; the first failure raises :class:`~sigmse.site.pages.BookBuildError`."""
    by_name = {c.name: c for c in chapters}
    by_task = {t["name"]: t for t in tasks}
    provenance = _provenance(profile)
    with _progress(len(tasks), f"notebooks ({profile})") as bar:
        for summary in _execute_all(tasks, jobs, bar):
            chapter, task = by_name[summary["name"]], by_task[summary["name"]]
            if not summary["ok"]:
                raise BookBuildError(_failure_message(summary, chapter, root))
            meta = dict(provenance, parameters={**task["defaults"], **task["parameters"]},
                        given=sorted(task["parameters"]), seconds=round(summary["seconds"], 1))
            _postprocess(Path(summary["output"]), meta, root)
            _check_verdicts(chapter, Path(summary["output"]))


def left_out_chapters(chapters: list[Chapter], selected: list[Chapter], staging: Path, profile: str) -> set[str]:
    """Chapters not run now: reuse an earlier executed copy with this profile, else leave them out.

    Returns the docpaths of the chapters left out.
    """
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
