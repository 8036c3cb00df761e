"""The Jupyter Book around the chapter notebooks: its table of contents, the staging tree, the build, the checks.

:func:`sigmse.site.book.build_book` runs the chapters (:mod:`sigmse.site.notebooks`) and then uses this module:

1. :func:`discover_notebooks`: the chapter notebooks are the ``.ipynb`` entries of ``_toc.yml`` (the jb-book
   format), in reading order; ``--only NAME`` picks among them (:func:`select_chapters`).
2. :func:`stage_book`: ``_build/executed/`` becomes a staging tree holding ``_config.yml``, ``_toc.yml``,
   ``book/`` and the executed notebooks at the paths ``_toc.yml`` names, so cross-page glue such as
   ``{glue:text}`/notebooks/accuracy.ipynb::verdict_mnist:s``` resolves. Chapters left out of a partial
   build are dropped from the staged ``_toc.yml``. ``_config.yml`` sets ``execute_notebooks: "off"``:
   Jupyter Book never runs anything itself. The command line reference that ``book/api.md`` includes is
   written there too (:data:`CLI_REFERENCE`, :func:`sigmse.commands.command_reference`); the rest of that page
   is Sphinx autodoc of the docstrings.
3. :func:`publish_book`: ``jupyter-book build -W --keep-going`` over the staging tree, which fails loudly:
   on any Sphinx warning (only references to chapters left out are tolerated), a missing ``index.html``,
   or a page that shows a traceback or a figure pasted as ``<Figure size ...>`` text (MyST-NB #591). The
   HTML goes to ``_build/html`` with a ``.nojekyll`` for GitHub Pages.

Reference: Jupyter Book 1.x (``jupyter-book==1.0.4.post1``), https://jupyterbook.org/en/stable/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sigmse.commands import command_reference

__all__ = [
    "BookBuildError",
    "Chapter",
    "find_book_root",
    "discover_notebooks",
    "select_chapters",
    "stage_book",
    "publish_book",
]

_TOC_SUFFIXES = (".ipynb", ".md", ".myst", ".rst")
# Written into the staging tree by stage_book and included by book/api.md: every command's --help.
CLI_REFERENCE = Path("book") / "_generated" / "cli-reference.md"
# Text that means a page shows a failure: an error output, or a figure glued across pages (MyST-NB #591).
_BAD_HTML = {
    'class="output traceback': "an error output (traceback)",
    "Traceback (most recent call last)": "a Python traceback",
    "&lt;Figure size": "a matplotlib figure pasted as text (glue a figure only on its own page, "
                       "and under the inline backend: no matplotlib.use('Agg') in notebooks)",
}
_WARNING_RE = re.compile(r"\b(WARNING|ERROR|CRITICAL|SEVERE):")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


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


def find_book_root(root: str | os.PathLike[str] | None) -> Path:
    """The book's folder: ``root``, else the current folder, else the sigmse checkout (both need ``_toc.yml``)."""
    if root is not None:
        path = Path(root).expanduser().resolve()
        if not (path / "_toc.yml").is_file():
            raise ValueError(f"no _toc.yml in {str(path)!r}; pass the folder that holds the book's _toc.yml")
        return path
    checkout = Path(__file__).resolve().parents[2]
    for candidate in (Path.cwd(), checkout):
        if (candidate / "_toc.yml").is_file():
            return candidate.resolve()
    raise ValueError(f"no _toc.yml in {str(Path.cwd())!r} nor in {str(checkout)!r}; "
                     "run from the repository root or pass root=")


def _read_toc(root: Path) -> Any:
    """``root/_toc.yml``, parsed."""
    import yaml

    with (root / "_toc.yml").open(encoding="utf-8") as stream:
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
    base = find_book_root(root)
    chapters: list[Chapter] = []
    for docpath in _toc_files(_read_toc(base)):
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


def select_chapters(chapters: list[Chapter], names: Sequence[str] | None) -> list[Chapter]:
    """The chapters called ``names`` (all for ``None``), in reading order; an unknown name raises ``ValueError``."""
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
# Staging, building, checking


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


def stage_book(root: Path, staging: Path, missing: set[str], announcement: str | None = None) -> None:
    """Lay out the book's sources beside the executed notebooks: config, toc, and every non-notebook file.

    ``missing``: the docpaths (no suffix) of chapters left out of this build; the staged toc drops them.
    ``announcement``: a line (HTML) the theme shows at the top of every page (``html.announcement`` of the staged
    ``_config.yml``; the committed one is not written).
    """
    import yaml

    toc = _read_toc(root)
    staging.mkdir(parents=True, exist_ok=True)
    if (root / "_config.yml").is_file():
        config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
        if announcement is not None:
            config.setdefault("html", {})["announcement"] = announcement
        with (staging / "_config.yml").open("w", encoding="utf-8") as stream:
            yaml.safe_dump(config, stream, sort_keys=False, allow_unicode=True)
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
    _write_generated(staging)


def _write_generated(staging: Path) -> None:
    """Pages parts made from the code at build time: the command line's ``--help`` texts (:data:`CLI_REFERENCE`)."""
    path = staging / CLI_REFERENCE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(command_reference(), encoding="utf-8")


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


def publish_book(build: Path, left_out: set[str]) -> Path:
    """``jupyter-book build`` of the staging tree, checked, copied to ``<build>/html`` with a ``.nojekyll``.

    ``left_out``: the docpaths of chapters left out of this build; only warnings naming them are tolerated.
    """
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
