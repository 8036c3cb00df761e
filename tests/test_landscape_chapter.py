"""Tests of sigmse.report.landscape: on a tiny grid every part returns its figure, its tables and the values the
chapter's prose reads, each glue key from exactly one part; bad parameters fail on construction."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("seaborn")
pytest.importorskip("pandas")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402
from pandas.io.formats.style import Styler  # noqa: E402

from sigmse.report.landscape import LandscapeChapter  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "landscape.ipynb"
PARTS = ("note_figure", "gradient_norms", "artefacts", "pinned_values", "refinement", "descent", "conditioning",
         "verdict")


def _prose_keys() -> set[str]:
    """Every glue key the notebook's markdown reads: ``{glue:text}`key:format``` and ``{glue:figure} key``."""
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return set(re.findall(r"\{glue:text\}`([\w]+)", text)) | set(re.findall(r"\{glue:figure\} (\w+)", text))


@pytest.fixture(scope="module")
def parts():
    chapter = LandscapeChapter(grid_size=10, fixed_logit_multiples=[-10.0, -1000.0], refinements=[6, 12],
                               descent_steps=3)
    return chapter, {"settings": chapter.settings(), **{name: getattr(chapter, name)() for name in PARTS}}


def test_every_key_the_prose_reads_comes_from_exactly_one_part(parts):
    _, found = parts
    keys = [key for values in (v if isinstance(v, dict) else v.values for v in found.values()) for key in values]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    assert _prose_keys() | {"landscape_verdict"} <= set(keys), sorted(_prose_keys() - set(keys))


def test_parts_carry_their_figures_and_tables(parts):
    chapter, found = parts
    tables = {name: len(part.tables) for name, part in found.items() if name != "settings"}
    assert tables == {"note_figure": 0, "gradient_norms": 1, "artefacts": 2, "pinned_values": 1, "refinement": 1,
                      "descent": 1, "conditioning": 2, "verdict": 1}
    assert all(isinstance(t, Styler) for name in PARTS for t in found[name].tables)
    figures = {key for name in PARTS for key, value in found[name].values.items() if isinstance(value, Figure)}
    assert figures == {"fig_note", "fig_grad", "fig_pins", "fig_refine", "fig_descent", "fig_curvature"}
    values = found["settings"]
    assert values["cells"] == 100 and values["grid_size"] == 10 and values["start_z1"] == -8.0
    assert found["refinement"].values["refine_first"] == 6 and found["refinement"].values["refine_last"] == 12
    assert found["pinned_values"].values["pin_mild"] == -10.0 and found["pinned_values"].values["pin_extreme"] == -1000.0
    assert found["descent"].values["descent_softmax_mse_fixed"] == "never in 3"
    assert found["verdict"].values["landscape_verdict"].startswith(("no cliffs", "cliffs", "discontinuities"))


@pytest.mark.parametrize("options, message", [
    ({"grid_size": 1}, "grid_size must be >= 2, got 1"),
    ({"dtype": "float16"}, "dtype 'float16' is not allowed; choose one of: 'float32', 'float64'"),
    ({"fixed_logit_multiples": [-10.0, float("nan")]}, "fixed_logit must be a finite number, got nan"),
    ({"refinements": [100, 1]}, "grid_size must be >= 2, got 1"),
])
def test_bad_parameters_fail_on_construction(options, message):
    with pytest.raises(ValueError) as info:
        LandscapeChapter(**options)
    assert str(info.value) == message
