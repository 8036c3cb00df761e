"""The Jupyter Book (https://jupyterbook.org/en/stable/, 1.x) around the executed chapters: the chapters are the
notebooks of ``_toc.yml`` in reading order (:func:`discover_notebooks`); the staging tree holds the executed notebooks
beside a copy of the other sources, since papermill must never write over the committed notebooks
(:func:`stage_book`); :func:`publish_book` runs ``jupyter-book build -W``, in which any warning fails the build
except, in a partial build, those about the chapters left out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from sphinx_external_toc.parsing import parse_toc_yaml

__all__ = ["BookBuildError", "ChapterNotebook", "CLI_REFERENCE", "find_book_root", "discover_notebooks",
           "select_chapters", "stage_book", "publish_book"]

_SUFFIXES = ("", ".ipynb", ".md", ".myst", ".rst")
# Included by book/api.md; stage_book writes what the CLI passes (every command's --help).
CLI_REFERENCE = Path("book") / "_generated" / "cli-reference.md"
_WARNING = re.compile(r"\b(WARNING|ERROR|CRITICAL|SEVERE):")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class BookBuildError(RuntimeError):
    """A run of the chapters failed, a notebook did, or Jupyter Book did."""


@dataclass(frozen=True)
class ChapterNotebook:
    """A notebook named in ``_toc.yml``."""

    name: str      # file stem, the name ``--only`` takes: "accuracy"
    docpath: str   # path in _toc.yml, no suffix: "notebooks/accuracy"
    source: Path   # the committed notebook


def find_book_root(root: str | os.PathLike[str] | None) -> Path:
    """The book's folder: ``root``, else the current folder, else the sigmse checkout (each needs ``_toc.yml``)."""
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


def _source(root: Path, docname: str) -> Path:
    """The file behind a toc entry (``notebooks/accuracy`` -> ``notebooks/accuracy.ipynb``)."""
    for suffix in _SUFFIXES:
        if (root / (docname + suffix)).is_file():
            return root / (docname + suffix)
    raise ValueError(f"_toc.yml names {docname!r} but there is no {docname}.ipynb or {docname}.md in {str(root)!r}")


def discover_notebooks(root: str | os.PathLike[str] | None = None) -> list[ChapterNotebook]:
    """The notebooks ``_toc.yml`` names, in reading order; a toc entry with no file raises ``ValueError``."""
    base = find_book_root(root)
    sources = {docname: _source(base, docname) for docname in parse_toc_yaml(str(base / "_toc.yml"))}
    chapters = [ChapterNotebook(path.stem, doc, path) for doc, path in sources.items() if path.suffix == ".ipynb"]
    if twice := sorted(name for name, n in Counter(c.name for c in chapters).items() if n > 1):
        raise ValueError(f"_toc.yml names two notebooks called {', '.join(twice)}; notebook names must differ")
    return chapters


def select_chapters(chapters: list[ChapterNotebook], names: Sequence[str] | None) -> list[ChapterNotebook]:
    """The chapters called ``names`` (all for ``None``), in reading order; an unknown name raises ``ValueError``.
    ``accuracy``, ``accuracy.ipynb`` and ``notebooks/accuracy`` name the same chapter."""
    if names is None:
        return chapters
    known = [c.name for c in chapters]
    if unknown := [name for name in names if Path(name).stem not in known]:
        raise ValueError(f"unknown notebook {', '.join(map(repr, unknown))}; "
                         f"choose from: {', '.join(known) or '(none: _toc.yml names no notebook)'}")
    return [c for c in chapters if c.name in {Path(name).stem for name in names}]


def stage_book(root: Path, staging: Path, *, left_out: Sequence[str] = (), announcement: str | None = None,
               cli_reference: str | None = None) -> None:
    """Copy the book's sources other than notebooks into ``staging``, beside the executed notebooks; the staged
    ``_config.yml`` excludes the ``left_out`` toc paths (an executed copy of another profile there is not built) and
    shows ``announcement`` (HTML) atop every page; :data:`CLI_REFERENCE` gets ``cli_reference``.
    """
    staging.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    if announcement is not None:
        config.setdefault("html", {})["announcement"] = announcement
    config["exclude_patterns"] = [*config.get("exclude_patterns", []), *(f"{path}.ipynb" for path in sorted(left_out))]
    (staging / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    shutil.copy2(root / "_toc.yml", staging / "_toc.yml")
    ignore = shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__", "_build")
    for docname in parse_toc_yaml(str(root / "_toc.yml")):
        top = Path(docname).parts[0]
        if (root / top).is_dir():  # book/, notebooks/: the pages and what they include (figures, bib, _ext)
            shutil.copytree(root / top, staging / top, ignore=ignore, dirs_exist_ok=True)
        elif (source := _source(root, docname)).suffix != ".ipynb":
            shutil.copy2(source, staging / source.name)
    (staging / CLI_REFERENCE).parent.mkdir(parents=True, exist_ok=True)
    (staging / CLI_REFERENCE).write_text(cli_reference or "Run `sigmse --help` and `sigmse COMMAND --help`.\n",
                                         encoding="utf-8")


def publish_book(build: Path, left_out: set[str]) -> Path:
    """``jupyter-book build`` of ``<build>/executed``, copied to ``<build>/html`` with a ``.nojekyll`` (GitHub Pages);
    any warning fails it but those naming the ``left_out`` chapters. The log is kept beside the build."""
    output = build / ".jupyter-book"
    shutil.rmtree(output, ignore_errors=True)  # a clean build: no stale pages, no stale glue
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build",
               str(build / "executed"), "--path-output", str(output), "--builder", "html", "--keep-going"]
    done = subprocess.run(command + ([] if left_out else ["-W"]), capture_output=True, text=True,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    log = _ANSI.sub("", done.stdout + done.stderr)
    output.mkdir(parents=True, exist_ok=True)
    (output / "jupyter-book.log").write_text(log, encoding="utf-8")
    warnings = [line.strip() for line in log.splitlines()
                if _WARNING.search(line) and not any(docpath in line for docpath in left_out)]
    built = output / "_build" / "html"
    if done.returncode != 0 or warnings or not (built / "index.html").is_file():
        shown = "\n".join(warnings[:30] or log.splitlines()[-30:])
        raise BookBuildError(f"jupyter-book build failed (exit status {done.returncode}, {len(warnings)} "
                             f"warning(s)); full log in {output / 'jupyter-book.log'}:\n{shown}")
    html = build / "html"
    shutil.rmtree(html, ignore_errors=True)
    shutil.copytree(built, html)
    (html / ".nojekyll").touch()
    return html
