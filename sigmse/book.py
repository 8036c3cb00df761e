"""Build the Jupyter Book: run every chapter notebook with papermill, then ``jupyter-book build``.

One command rebuilds everything (``sigmse book``, which ``make book`` runs):

0. The runs the chapters read (:data:`CHAPTER_EXPERIMENTS`) train first, as one sweep through
   :func:`sigmse.executors.run_configs`: in this process, in a process pool (``--sweep-jobs N``) or on a
   Ray cluster (``--executor ray``). Stored runs are skipped. If a run fails the build stops there,
   listing the failed runs; what finished stays stored, and a rerun retries only the failed ones.
1. The chapter notebooks are the ``.ipynb`` entries of ``_toc.yml``. Each runs with
   papermill in its own folder (Jupyter Book's ``run_in_temp: false`` convention), with
   the parameters its ``parameters`` cell declares: ``profile``, ``results_dir``,
   ``data_dir``, ``device`` and any ``-p KEY=VALUE``. The executed copy goes to
   ``_build/executed/<toc path>.ipynb``; the committed sources are never written.
   Training is cached in the results store, so a rebuild only re-plots.
2. Each executed copy is tidied: the papermill ``injected-parameters`` cell is tagged
   ``remove-input`` (papermill does not copy the ``parameters`` tags, papermill #731) and a
   dropdown after it records how the page was made (parameters, sigmse commit, machine).
3. ``jupyter-book build -W --keep-going`` runs over ``_build/executed/``, a staging tree
   holding ``_config.yml``, ``_toc.yml``, ``book/`` and the executed notebooks at the paths
   ``_toc.yml`` names, so cross-page glue such as
   ``{glue:text}`/notebooks/accuracy.ipynb::verdict_mnist:s``` resolves. ``_config.yml``
   sets ``execute_notebooks: "off"``: Jupyter Book never runs anything itself.
4. The build fails loudly: on any Sphinx warning, a missing ``index.html``, or a page that
   shows a traceback or a figure pasted as ``<Figure size ...>`` text. The HTML goes to
   ``_build/html`` with a ``.nojekyll`` for GitHub Pages.

``--only NAME`` runs only those notebooks and reuses the executed copies of the others
from an earlier build with the same profile; chapters with no such copy are left out of
that build (with a note) and references to them are the only warnings tolerated.

Glue keys the book's own pages read from the notebooks are listed in :data:`VERDICT_KEYS`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

__all__ = [
    "VERDICT_KEYS",
    "CORE_PARAMETERS",
    "CHAPTER_EXPERIMENTS",
    "BookBuildError",
    "Chapter",
    "verdict_key",
    "discover_notebooks",
    "build_book",
    "add_book_arguments",
    "run_book_command",
]

# Glue keys that book/intro.md pastes into its verdict table, per notebook (notebooks/<name>.ipynb).
# Notebook authors: glue each as a short plain string, e.g.
#     from myst_nb import glue
#     glue("verdict_mnist", "matches: 98.1 % vs 98.0 % (softmax CE)", display=False)
# A verdict says what the evidence shows in a few words *with* the numbers it rests on
# (computed, never typed). The book page reads them as {glue:text}`/notebooks/<name>.ipynb::<key>:s`
# (the trailing ``:s`` is needed: without a format spec the role splits ``::`` wrongly).
# ``build_book`` checks after execution that every key below was glued.
VERDICT_KEYS: dict[str, tuple[str, ...]] = {
    # accuracy: one verdict per dataset, key "verdict_" + dataset with "-" -> "_" (see verdict_key)
    "accuracy": ("verdict_mnist", "verdict_fashion_mnist", "verdict_cifar10"),
    # convergence: epochs (or time) to a target accuracy, sigmoid-MSE+OR versus softmax CE
    "convergence": ("convergence_verdict",),
    # noise: accuracy under label noise, sigmoid-MSE+OR versus softmax CE and the robust losses
    "noise": ("noise_verdict",),
    # landscape: is the loss surface of sigmoid-MSE cliff-ridden / badly conditioned at extreme logits?
    "landscape": ("landscape_verdict",),
    # unification: one MSE objective for a digit and its rotation angle versus separate CE + MSE heads
    "unification": ("unification_verdict",),
}

# The parameters every chapter notebook declares in its `parameters` cell (tests/test_book.py checks).
CORE_PARAMETERS = ("profile", "results_dir", "data_dir", "device")

# The experiments (sigmse.profiles) each chapter reads with analysis.experiment_records(name, ...). Before
# running the notebooks, build_book runs the experiments of the chapters it executes as one sweep, on the
# executor asked for (this process, a process pool, a Ray cluster), so the notebooks only load stored runs.
# tests/test_book.py checks this table against the notebooks' calls.
CHAPTER_EXPERIMENTS: dict[str, tuple[str, ...]] = {
    "accuracy": ("accuracy",),
    "convergence": ("accuracy",),
    "output_reset": ("output_reset", "lr_sweep"),
    "noise": ("noise",),
}
# Notebook parameters that change which runs a chapter reads; given with -p, the sweep uses them too.
SWEEP_PARAMETERS = ("datasets", "seeds")

KERNEL_NAME = "python3"
DATA_DIR_ENV = "SIGMSE_DATA_DIR"
PROVENANCE_KEY = "sigmse"  # notebook metadata key holding how the executed copy was made
_TOC_SUFFIXES = (".ipynb", ".md", ".myst", ".rst")
# Text that means a page shows a failure: an error output, or a figure glued across pages (MyST-NB #591).
_BAD_HTML = {
    'class="output traceback': "an error output (traceback)",
    "Traceback (most recent call last)": "a Python traceback",
    "&lt;Figure size": "a matplotlib figure pasted as text (glue a figure only on its own page, "
                       "and under the inline backend: no matplotlib.use('Agg') in notebooks)",
}
_WARNING_RE = re.compile(r"\b(WARNING|ERROR|CRITICAL|SEVERE):")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def verdict_key(dataset: str) -> str:
    """The accuracy chapter's glue key for ``dataset``: ``fashion-mnist`` -> ``verdict_fashion_mnist``."""
    return "verdict_" + dataset.replace("-", "_")


class BookBuildError(RuntimeError):
    """A notebook failed, or Jupyter Book did, or the HTML shows an error."""


@dataclass(frozen=True)
class Chapter:
    """A notebook named in ``_toc.yml``."""

    name: str      # file stem, the name ``--only`` takes: "accuracy"
    docpath: str   # path in _toc.yml, no suffix: "notebooks/accuracy"
    source: Path   # the committed notebook


# ---------------------------------------------------------------------------------------------
# Discovery


def _find_root(root: str | os.PathLike[str] | None) -> Path:
    """The book's folder: ``root``, else the current folder, else the sigmse checkout (both need ``_toc.yml``)."""
    if root is not None:
        path = Path(root).expanduser().resolve()
        if not (path / "_toc.yml").is_file():
            raise ValueError(f"no _toc.yml in {str(path)!r}; pass the folder that holds the book's _toc.yml")
        return path
    checkout = Path(__file__).resolve().parent.parent
    for candidate in (Path.cwd(), checkout):
        if (candidate / "_toc.yml").is_file():
            return candidate.resolve()
    raise ValueError(f"no _toc.yml in {str(Path.cwd())!r} nor in {str(checkout)!r}; "
                     "run from the repository root or pass root=")


def _read_yaml(path: Path) -> Any:
    import yaml

    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def _toc_files(toc: Any) -> list[str]:
    """Every ``file:`` (and the ``root:``) of a jb-book or jb-article toc, in reading order."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                found.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    if not isinstance(toc, dict) or "root" not in toc:
        raise ValueError("_toc.yml has no 'root:' entry; expected the jb-book format")
    found.append(str(toc["root"]))
    walk(toc)
    return found


def _resolve_doc(root: Path, docpath: str) -> Path:
    """The file behind a toc entry (``notebooks/accuracy`` -> ``notebooks/accuracy.ipynb``)."""
    given = root / docpath
    if given.suffix in _TOC_SUFFIXES and given.is_file():
        return given
    for suffix in _TOC_SUFFIXES:
        if given.with_name(given.name + suffix).is_file():
            return given.with_name(given.name + suffix)
    raise ValueError(f"_toc.yml names {docpath!r} but there is no {docpath}.ipynb or {docpath}.md in {str(root)!r}")


def _strip_suffix(docpath: str) -> str:
    path = Path(docpath)
    return path.with_suffix("").as_posix() if path.suffix in _TOC_SUFFIXES else path.as_posix()


def discover_notebooks(root: str | os.PathLike[str] | None = None, *,
                       absent: list[str] | None = None) -> list[Chapter]:
    """The notebooks ``_toc.yml`` names, in reading order.

    A toc entry with no file raises ``ValueError``; if ``absent`` is a list, its path is appended there instead.
    """
    base = _find_root(root)
    chapters: list[Chapter] = []
    for docpath in _toc_files(_read_yaml(base / "_toc.yml")):
        try:
            path = _resolve_doc(base, docpath)
        except ValueError:
            if absent is None:
                raise
            absent.append(_strip_suffix(docpath))
            continue
        if path.suffix == ".ipynb":
            chapters.append(Chapter(path.stem, _strip_suffix(docpath), path))
    names = [c.name for c in chapters]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"_toc.yml names two notebooks called {', '.join(duplicates)}; notebook names must differ")
    return chapters


def _select(chapters: list[Chapter], names: Sequence[str] | None) -> list[Chapter]:
    if names is None:
        return chapters
    by_name = {c.name: c for c in chapters}
    wanted = [Path(n).stem for n in names]  # "accuracy", "accuracy.ipynb" and "notebooks/accuracy" all work
    unknown = [n for n, w in zip(names, wanted, strict=True) if w not in by_name]
    if unknown:
        raise ValueError(f"unknown notebook {', '.join(map(repr, unknown))}; "
                         f"choose from: {', '.join(by_name) or '(none: _toc.yml names no notebook)'}")
    return [c for c in chapters if c.name in wanted]


# ---------------------------------------------------------------------------------------------
# Execution


def _absolute(path: str | os.PathLike[str], base: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _data_root(data_dir: str | os.PathLike[str] | None, base: Path) -> Path:
    """``data_dir``, else ``$SIGMSE_DATA_DIR``, else ``<root>/data``: always absolute, as notebooks run elsewhere."""
    if data_dir is not None:
        return _absolute(data_dir, base)
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser().resolve()
    return base / "data"


def _declared(chapter: Chapter) -> dict[str, Any]:
    import papermill

    return dict(papermill.inspect_notebook(str(chapter.source)))


def _execute(task: dict[str, Any]) -> dict[str, Any]:
    """Run one notebook with papermill; return a summary (also in worker processes, so no exception escapes)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    start = time.perf_counter()
    output = Path(task["output"])
    output.parent.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"name": task["name"], "output": str(output)}
    try:
        papermill.execute_notebook(
            task["source"], str(output), parameters=task["parameters"], kernel_name=KERNEL_NAME,
            cwd=task["cwd"], progress_bar=False, log_output=False,
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


# ---------------------------------------------------------------------------------------------
# Provenance and post-processing


def _git(*args: str) -> str | None:
    source = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(["git", *args], cwd=source, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _machine() -> dict[str, Any]:
    """Where the book was built: enough to judge the timings, nothing personal (no host name)."""
    gpus = None
    if shutil.which("nvidia-smi"):
        try:
            listed = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                    capture_output=True, text=True, timeout=10)
            gpus = ", ".join(line.strip() for line in listed.stdout.splitlines() if line.strip()) or None
        except (OSError, subprocess.SubprocessError):
            gpus = None
    from importlib.metadata import PackageNotFoundError, version

    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = None
    return {"platform": platform.platform(), "cpu_cores": os.cpu_count(), "gpus": gpus,
            "python": platform.python_version(), "torch": torch_version}


def _provenance(profile: str) -> dict[str, Any]:
    import sigmse

    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"profile": profile, "sigmse_version": sigmse.__version__, "git_commit": commit,
            "git_dirty": bool(dirty) if commit else None, "machine": _machine(),
            "built_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


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
        f"{machine['cpu_cores']} CPU cores, GPU: {machine['gpus'] or 'none'}.\n:::"
    )


def _postprocess(path: Path, meta: dict[str, Any], root: Path) -> None:
    """Hide the injected-parameters cell (papermill #731), add the provenance dropdown and metadata."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    insert_at = None
    for index, cell in enumerate(nb.cells):
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags:
            if "remove-input" not in tags:
                tags.append("remove-input")
            insert_at = index + 1
        elif "parameters" in tags and not {"hide-input", "remove-input", "remove-cell"} & set(tags):
            tags.append("hide-input")  # the defaults, one click away; the values used are in the dropdown
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
    missing = [key for key in VERDICT_KEYS.get(chapter.name, ()) if key not in _glued_keys(executed)]
    if missing:
        raise BookBuildError(
            f"notebook {chapter.docpath}.ipynb ran but did not glue {', '.join(map(repr, missing))}, which "
            f"book/intro.md reads (see sigmse.book.VERDICT_KEYS); executed copy: {executed}")


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
# Jupyter Book


def _trimmed_toc(toc: Any, missing: set[str]) -> Any:
    """``toc`` without the entries in ``missing`` (docpaths without suffix), and without emptied parts."""
    def keep(entry: Any) -> bool:
        return not (isinstance(entry, dict) and isinstance(entry.get("file"), str)
                    and _strip_suffix(entry["file"]) in missing)

    def prune(node: Any) -> Any:
        if isinstance(node, dict):
            node = dict(node)
            for key in ("parts", "chapters", "sections"):
                if key in node:
                    node[key] = [prune(child) for child in node[key] or [] if keep(child)]
            if "parts" in node:
                node["parts"] = [p for p in node["parts"] if p.get("chapters")]
        return node

    return prune(toc)


def _stage(root: Path, staging: Path, toc: Any, missing: set[str]) -> None:
    """Lay out the book's sources beside the executed notebooks: config, toc, and every non-notebook file."""
    import yaml

    staging.mkdir(parents=True, exist_ok=True)
    if (root / "_config.yml").is_file():
        shutil.copy2(root / "_config.yml", staging / "_config.yml")
    with (staging / "_toc.yml").open("w", encoding="utf-8") as stream:
        yaml.safe_dump(_trimmed_toc(toc, missing) if missing else toc, stream, sort_keys=False)
    ignore = shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__", "_build")
    for folder in sorted({Path(d).parts[0] for d in _toc_files(toc) if len(Path(d).parts) > 1}):
        if (staging / folder).is_dir() and not any((staging / folder).rglob("*.ipynb")):
            shutil.rmtree(staging / folder)  # no executed notebooks in it: start clean, drop deleted files
        if (root / folder).is_dir():
            shutil.copytree(root / folder, staging / folder, ignore=ignore, dirs_exist_ok=True)
    for docpath in _toc_files(toc):
        if len(Path(docpath).parts) == 1 and _strip_suffix(docpath) not in missing:
            path = _resolve_doc(root, docpath)
            if path.suffix != ".ipynb":
                shutil.copy2(path, staging / path.name)


def _warnings(log: str) -> list[str]:
    return [line.strip() for line in _ANSI_RE.sub("", log).splitlines() if _WARNING_RE.search(line)]


def _run_jupyter_book(staging: Path, output: Path, *, strict: bool, tolerated: set[str]) -> Path:
    """``jupyter-book build`` of ``staging`` into ``output/_build/html``; any untolerated warning fails it."""
    if output.exists():
        shutil.rmtree(output)  # a clean build: no stale pages, no stale glue cache
    command = [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())",
               "build", str(staging), "--path-output", str(output), "--builder", "html", "--keep-going"]
    if strict:
        command.append("-W")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    done = subprocess.run(command, cwd=staging, capture_output=True, text=True, env=env)
    log = done.stdout + done.stderr
    output.mkdir(parents=True, exist_ok=True)
    (output / "jupyter-book.log").write_text(log, encoding="utf-8")
    warnings = [w for w in _warnings(log) if not any(doc in w for doc in tolerated)]
    if done.returncode != 0 or warnings:
        lines = _ANSI_RE.sub("", log).splitlines()
        errors = [line for line in lines if re.search(r"error|exception", line, re.I)]
        shown = "\n".join(warnings[:30] or list(dict.fromkeys(errors))[:15] or lines[-30:])
        raise BookBuildError(f"jupyter-book build failed (exit status {done.returncode}, {len(warnings)} warning(s)); "
                             f"full log in {output / 'jupyter-book.log'}:\n{shown}")
    html = output / "_build" / "html"
    reports = sorted((html / "reports").glob("*")) if (html / "reports").is_dir() else []
    if reports:
        raise BookBuildError(f"jupyter-book wrote execution reports, so a notebook failed: {reports[0]}")
    return html


def _check_html(html: Path) -> None:
    """The book exists and no page shows an error."""
    if not (html / "index.html").is_file():
        raise BookBuildError(f"the build wrote no {html / 'index.html'}")
    problems = []
    for page in sorted(html.rglob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        problems += [f"{page.relative_to(html)} shows {what}" for marker, what in _BAD_HTML.items() if marker in text]
    if problems:
        raise BookBuildError("the built book shows errors:\n  " + "\n  ".join(problems))


# ---------------------------------------------------------------------------------------------
# The whole build


def _progress(total: int, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="notebook", file=sys.stderr, dynamic_ncols=True)


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


def build_book(
    profile: str = "quick",
    *,
    notebooks: Sequence[str] | None = None,
    results_dir: str | os.PathLike[str] = "results",
    data_dir: str | os.PathLike[str] | None = None,
    device: str | None = None,
    build_dir: str | os.PathLike[str] = "_build",
    extra_parameters: dict[str, Any] | None = None,
    jobs: int = 1,
    executor: str = "local",
    sweep_jobs: int | None = None,
    ray_address: str | None = None,
    retries: int = 2,
    resources: dict[str, float] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> Path:
    """Run the chapter notebooks with papermill and build the HTML book; return the ``html`` folder.

    Args:
        profile: a :mod:`sigmse.profiles` name (``smoke``, ``quick``, ``paper``), passed to every notebook.
        notebooks: run only these (names as in ``_toc.yml``, e.g. ``["accuracy"]``); the others reuse
            their executed copies from an earlier build with the same profile, or are left out.
        results_dir: the results store (relative paths are relative to ``root``).
        data_dir: the data root; default ``$SIGMSE_DATA_DIR``, else ``<root>/data``.
        device: override the profile's device (``auto``, ``cpu``, ``cuda``); default: the notebook's.
        build_dir: where ``executed/`` (the staging tree) and ``html/`` go (relative to ``root``).
        extra_parameters: more papermill parameters; each must be declared by one of the notebooks.
        jobs: notebooks run at once (each in its own process and kernel).
        executor: where the chapters' runs train before the notebooks run (:func:`sigmse.executors.run_configs`):
            ``local`` or ``ray``.
        sweep_jobs: ``local``: runs at once in a process pool (default 1: in this process);
            ``ray``: most runs in flight.
        ray_address: ``ray`` only: the cluster (default: a local one, started for the sweep).
        retries: how often a run whose worker process died is resubmitted.
        resources: ``ray`` only: ``num_cpus`` and/or ``num_gpus`` each run reserves.
        root: the folder with ``_config.yml`` and ``_toc.yml``; default the current folder or the checkout.

    Raises:
        ValueError: an unknown profile, notebook or parameter, or a toc entry with no file.
        DatasetNotFoundError: a dataset the chapters' runs need is not under the data root (before any run).
        BookBuildError: a run of the sweep failed (listing them; nothing stored is lost and a rerun retries),
            a notebook failed (naming it, the cell, the exception, the executed copy),
            or ``jupyter-book build`` warned or failed, or a page shows an error.
    """
    from sigmse.executors import check_executor_options
    from sigmse.profiles import get_profile

    get_profile(profile)  # ValueError listing the profiles
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    check_executor_options(executor, sweep_jobs, retries, resources)  # e.g. Ray not installed: said before any work
    base = _find_root(root)
    absent: list[str] = []  # toc entries with no file: an error for a full build, left out of a partial one
    chapters = discover_notebooks(base, absent=None if notebooks is None else absent)
    selected = _select(chapters, notebooks)
    build = _absolute(build_dir, base)
    core = {"profile": profile, "results_dir": str(_absolute(results_dir, base)),
            "data_dir": str(_data_root(data_dir, base)), "device": device}
    tasks = _plan(selected, core, dict(extra_parameters or {}), build / "executed")

    _run_chapter_sweep(tasks, core, executor=executor, jobs=sweep_jobs, ray_address=ray_address, retries=retries,
                       resources=resources)
    _run_notebooks(tasks, chapters, jobs, profile, base)
    left_out = _left_out(chapters, selected, build / "executed", profile)
    if absent:
        print(f"leaving out {', '.join(absent)}: named in _toc.yml but not written yet", file=sys.stderr)
    left_out |= set(absent)
    _stage(base, build / "executed", _read_yaml(base / "_toc.yml"), left_out)
    return _publish(build, left_out)


def _plan(selected: list[Chapter], core: dict[str, Any], extra: dict[str, Any], staging: Path) -> list[dict]:
    """One papermill task per chapter, with only the parameters its ``parameters`` cell declares."""
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


def _run_chapter_sweep(tasks: list[dict], core: dict[str, Any], **executor_options: Any) -> None:
    """Train the runs the chapters will read (:data:`CHAPTER_EXPERIMENTS`) as one sweep; stop if any failed."""
    from sigmse.executors import run_configs
    from sigmse.profiles import experiment_configs

    configs = []  # two chapters may read the same experiment: run_configs runs each run once
    for task in tasks:
        given = {k: task["parameters"].get(k) for k in SWEEP_PARAMETERS}
        for name in CHAPTER_EXPERIMENTS.get(task["name"], ()):
            configs += experiment_configs(name, core["profile"], device=core["device"], **given)
    if not configs:
        return
    summary = run_configs(configs, profile=core["profile"], results_dir=core["results_dir"],
                          data_dir=core["data_dir"], **executor_options)
    print(summary, file=sys.stderr)
    if summary.failed:
        raise BookBuildError(f"{len(summary.failed)} of the chapters' runs failed, so no notebook was run; "
                             f"the {summary.done} runs that finished are stored, and rerunning the build "
                             f"retries the failed ones.\n{summary}")


def _run_notebooks(tasks: list[dict], chapters: list[Chapter], jobs: int, profile: str, root: Path) -> None:
    """Execute, then tidy and check each executed copy; the first failure stops the build."""
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


def _left_out(chapters: list[Chapter], selected: list[Chapter], staging: Path, profile: str) -> set[str]:
    """Chapters not run now: reuse an earlier executed copy with this profile, else leave them out."""
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


def _publish(build: Path, left_out: set[str]) -> Path:
    """``jupyter-book build`` of the staging tree, checked, copied to ``<build>/html`` with a ``.nojekyll``."""
    started = time.perf_counter()
    built = _run_jupyter_book(build / "executed", build / ".jupyter-book", strict=not left_out, tolerated=left_out)
    _check_html(built)
    html = build / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(built, html)
    (html / ".nojekyll").touch()
    print(f"book built in {time.perf_counter() - started:.0f} s: {html / 'index.html'}", file=sys.stderr)
    return html


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
# Command line (wired into sigmse.cli as `sigmse book`)


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY a Python name (e.g. seeds=[0,1]), got {text!r}")
    try:
        return key, json.loads(value)  # 3 -> int, 0.5 -> float, true -> True, [0,1] -> list, null -> None
    except json.JSONDecodeError:
        return key, value  # anything else is a string


def add_book_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``sigmse book``."""
    from sigmse.executors import add_executor_arguments
    from sigmse.profiles import profile_names

    parser.add_argument("--profile", default="quick", help=f"one of: {', '.join(profile_names())} (default: quick)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this notebook (repeatable); the others reuse their last executed copy")
    parser.add_argument("--results-dir", default="results", help="the results store (default: results)")
    parser.add_argument("--data-dir", help="data root (default: $SIGMSE_DATA_DIR, else ./data)")
    parser.add_argument("--device", help="override the profile's device (auto, cpu, cuda)")
    parser.add_argument("--build-dir", default="_build", help="executed notebooks and HTML go here (default: _build)")
    parser.add_argument("-p", "--parameter", action="append", type=_key_value, metavar="KEY=VALUE",
                        help="another papermill parameter, JSON-typed (repeatable), e.g. -p seeds=[0]")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="notebooks to run at once (default: 1)")
    add_executor_arguments(parser, jobs_flag="--sweep-jobs")  # where the chapters' runs train, before the notebooks


def run_book_command(args: argparse.Namespace) -> int:
    """``sigmse book``: build the book and print its ``index.html``.

    Bad input raises ``ValueError`` (the CLI's exit status 2); a failed build prints why and returns 1.
    """
    from sigmse.executors import executor_resources

    extra: dict[str, Any] = {}
    for key, value in args.parameter or []:
        if key in extra:
            raise ValueError(f"parameter {key!r} given twice with -p")
        extra[key] = value
    try:
        html = build_book(args.profile, notebooks=args.only, results_dir=args.results_dir, data_dir=args.data_dir,
                          device=args.device, build_dir=args.build_dir, extra_parameters=extra, jobs=args.jobs,
                          executor=args.executor, sweep_jobs=args.sweep_jobs, ray_address=args.ray_address,
                          retries=args.retries, resources=executor_resources(args))
    except BookBuildError as error:  # a failed build is not a usage error: exit status 1, no Python traceback
        print(f"sigmse book: error: {error}", file=sys.stderr)
        return 1
    print(html / "index.html")
    return 0
