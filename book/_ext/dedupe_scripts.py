"""Sphinx extension: list each script once per page.

With Sphinx 7.4, an inline script that an extension adds after the builder is initialised
(sphinx-thebe's and sphinx-togglebutton's configuration) reaches the page twice: once with
filename ``None`` from ``app.add_js_file`` and once with filename ``""`` re-added from the registry
in ``prepare_writing``, which do not compare equal. The second ``const THEBE_JS_URL = ...`` is then
a SyntaxError in the browser console on every page (tests/test_browser.py catches it). This drops
exact repeats (same file or same inline body, same attributes) before the page is written.
"""

from __future__ import annotations

from typing import Any


def _key(script: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", script) or ""  # None and "" both mean an inline script
    return str(filename), tuple(sorted((str(k), str(v)) for k, v in attributes.items() if k != "priority"))


def _dedupe(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    unique = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _dedupe, priority=999)  # after every extension has added its scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
