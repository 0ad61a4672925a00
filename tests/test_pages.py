"""What a reader sees of the plumbing: nothing. Recorded numbers are stored but not shown,
papermill's parameters cell is hidden in the book, tables show at most 4 decimals, code fits the
book's column, and the Colab cell installs the version its notebook was written for.

(tests/test_browser.py checks the same on the rendered pages.)
"""

from __future__ import annotations

import json
import re

import build  # book/build.py (tests/conftest.py puts book/ on the path)
import jupytext
import numpy as np
import page_reference  # tests/page_reference.py
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from recsae_lite import __version__, _nb, viz

# the code column of the rendered book at a 1280-pixel-wide window (book/ruff.toml)
CODE_COLUMNS = 79


def too_many_decimals(text: str) -> bool:
    """Whether a number shows more than 4 decimals after its leading zeros (0.7710000276565552
    does, 0.771 and 0.0001235 do not); text that is not a number never does."""
    number = re.fullmatch(r"-?(\d+)\.(\d+)(e[-+]?\d+)?%?", text.strip())
    if number is None:
        return False
    whole, decimals = number.group(1), number.group(2)
    significant = decimals.lstrip("0") if int(whole) == 0 else decimals
    return len(significant) > 4


def test_too_many_decimals_reads_numbers_as_a_reader_does():
    assert too_many_decimals("0.7710000276565552") and too_many_decimals("12.34567")
    assert not any(map(too_many_decimals, ["0.771", "0.0001235", "12.3457", "3", "k=16", "—"]))


@pytest.mark.parametrize("chapter", build.chapters(), ids=lambda p: p.stem)
def test_code_fits_the_books_column(chapter):
    long = [
        line
        for cell in jupytext.read(chapter).cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > CODE_COLUMNS
    ]
    assert not long, f"{chapter.name}: code lines over {CODE_COLUMNS} characters: {long}"


def test_a_record_is_stored_and_not_shown(tmp_path):
    InteractiveShell.instance()  # a notebook's kernel: display() goes to its front end
    with capture_output() as captured:
        _nb.record("fvu", np.float32(0.25), ".2f")
    (output,) = captured.outputs
    # no mime type a front end renders (text/plain, text/html, ...): only myst-nb's hidden glue
    assert list(output.data) == ["application/papermill.record/text/plain"]
    notebook = tmp_path / "chapter.ipynb"
    stored = {"output_type": "display_data", "data": output.data, "metadata": output.metadata}
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": [stored]}]}))
    assert _nb.recorded(notebook) == {"fvu": 0.25}


def test_the_book_hides_the_cell_papermill_injects(tmp_path):
    cells = [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": 'PROFILE = "quick"'},
        {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": "X = 1"},
        {"cell_type": "code", "metadata": {}, "source": "print(1)"},
    ]
    notebook = tmp_path / "chapter.ipynb"
    notebook.write_text(json.dumps({"cells": cells}))
    build.hide_injected_parameters(notebook)
    tags = [cell["metadata"].get("tags") for cell in json.loads(notebook.read_text())["cells"]]
    assert tags == [["parameters"], ["injected-parameters", "remove-cell"], None]


def test_table_cells_show_at_most_four_decimals():
    values = np.array([0.771, 0.000123456, 12.3456789, 3.0], dtype=np.float32)
    table = pd.DataFrame({"score": values, "float64": values.astype(np.float64), "k": [1, 2, 3, 4]})
    # the plotly table of the book's figures, and the sortable HTML table
    cells = [text for column in viz.table_trace(table).cells.values for text in column]
    html_cells = sum(page_reference.page_data(viz.sortable_table(table).data)["rows"], [])
    for texts in (cells, html_cells):
        assert not [text for text in texts if too_many_decimals(text)], texts
        assert "0.771" in texts and "0.0001235" in texts and "12.3457" in texts
    # a DataFrame shown as a chapter's output, after the chapter's set-up
    with pd.option_context("display.precision", 6):  # pandas' default, restored after
        _nb.setup(0, "cpu", "ci")
        shown = re.findall(r"<td>([^<]*)</td>", table.to_html())
    assert not [text for text in shown if too_many_decimals(text)], shown


def test_the_colab_cell_installs_this_version():
    colab = build.colab_cell(build.config()["repository"]["url"])
    assert f'@v{__version__}"' in colab  # the tag of the package's version
    assert "print(" in colab and "RuntimeError" in colab  # says what it does, and what failed
