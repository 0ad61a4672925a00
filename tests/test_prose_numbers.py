"""Prose that cannot go stale (issue 18): every number a chapter's prose shows is glued.

A chapter records what it measures with `_nb.record(name, value, fmt)`, which also glues it
(myst-nb); its markdown shows the value as {glue:text}`name`, so a re-run changes the prose with
the numbers. A figure from a benchmark's result file is glued the same way, under a name that is
its path in the file: "peers/paper_c.elsa/ndcg@20" is the NDCG@20 of the figure with that id in
benchmarks/results/peers.json, and "two_tower/fidelity/model=ncf/l0=16/rbo/min" the least RBO of
the rows of two_tower.json's fidelity table with model ncf and l0 16. These tests check that no
chapter types a number by hand, and that every path-named value agrees with its file.

What counts as a number, and what may stay typed (the allow-list, kept short on purpose):
- scanned: decimals (0.36, .411), percentages (8%), ratios (1.6x), counts with comma separators
  (1,682) and any other integer of 100 or more (943); a smaller bare integer is not scanned: most
  are ordinals, section numbers or settings (top 10, k = 4, 3 seeds), so a measured one such as
  "77 users" is glued by hand without a test to catch it;
- left alone: glue roles, `inline code`, link targets, digits inside a name (ML-100K, NDCG@10,
  top-10, TopK), version numbers (1.2.1), arXiv ids, years (1950-2029: "Webber et al. 2010"),
  exercise, section and chapter numbers ("Exercise 2.1");
- a setting the chapter's code writes as a literal (`pick(PROFILE, ci=50, quick=200, ...)`,
  `threshold=0.5`, a percentage of a fraction such as 10% for 0.1): the prose then repeats what
  the reader sees set in code, and changing the code leaves the old number unallowed.
"""

from __future__ import annotations

import ast
import json
import re
import statistics
from pathlib import Path

import jupytext
import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from recsae_lite import _nb

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CHAPTERS = sorted(ROOT.glob("book/[0-9][0-9]_*.py"))

NUMBER = re.compile(
    r"""(?<![\w.@/])(?<![A-Za-z]-)  # not inside a name: ML-100K, NDCG@10, top-10, Last.fm
    (?P<number>\d{1,3}(?:,\d{3})+|\d*\.\d+|\d+)
    (?P<unit>\ ?%|x)?
    (?![\w%]|\.\d)  # nor followed by more of a name or a version: 100K, 1.2.1""",
    re.VERBOSE,
)
LEFT_ALONE = [
    r"\{glue(?::\w+)?\}`[^`]*`",  # glued: the point
    r"`[^`]*`",  # inline code
    r"\]\([^)]*\)",  # a link's target
    r"\barXiv:? ?\d{4}\.\d{4,5}",
    r"\b(?:19[5-9]\d|20[0-2]\d)\b",  # a year
    r"\b(?:[Ee]xercises?|[Ss]ections?|[Cc]hapters?) \d+(?:\.\d+)?",
]


def code_literals(cells) -> set[float]:
    """Every number written as a literal in the code cells: the settings the prose may repeat."""
    numbers = set()
    for cell in cells:
        if cell.cell_type == "code":
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Constant) and type(node.value) in (int, float):
                    numbers.add(round(node.value, 9))
    return numbers


def unglued_numbers(notebook) -> list[str]:
    """The numbers the markdown cells of `notebook` (a jupytext notebook) show that are neither
    glued nor allowed, as "cell N: number in 'line'"."""
    settings = code_literals(notebook.cells)
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            text = line
            for pattern in LEFT_ALONE:
                text = re.sub(pattern, " ", text)
            for match in NUMBER.finditer(text):
                value = float(match["number"].replace(",", ""))
                unit = (match["unit"] or "").strip()
                if not unit and "," not in match["number"] and "." not in match["number"]:
                    if value < 100:
                        continue  # a small bare integer: not scanned (see the module docstring)
                if round(value / 100 if unit == "%" else value, 9) in settings:
                    continue
                found.append(f"cell {index}: {match[0]} in {line.strip()!r}")
    return found


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_number_in_the_prose_is_glued(chapter):
    unglued = unglued_numbers(jupytext.read(chapter))
    assert not unglued, (
        f"{chapter.name}: numbers typed by hand in the prose; record each in the cell that "
        "computes it (_nb.record(name, value, fmt)) and write {glue:text}`name` instead:\n"
        + "\n".join(unglued)
    )


def fake_chapter(markdown: str, code: str = "K = 16\nSTRENGTH = 0.5\nBUDGET = 0.1") -> object:
    return jupytext.reads(f"# %%\n{code}\n\n# %% [markdown]\n{markdown}\n", fmt="py:percent")


@pytest.mark.parametrize(
    "typed",
    ["an NDCG of 0.36", "NDCG .411", "costs 8%", "costs 7.7 %", "grows 1.6x", "1,682 items",
     "943 users", "tau -0.15", "RBO 0.78-0.83", "Paper C's 0.5%"],
)  # fmt: skip
def test_a_number_typed_by_hand_fails(typed):
    unglued = unglued_numbers(fake_chapter(f"# We measured {typed} here."))
    assert unglued and all(line.startswith("cell 1:") for line in unglued), unglued


@pytest.mark.parametrize(
    "allowed",
    ["an NDCG of {glue:text}`elsa_ndcg`", "strength 0.5 and a budget of 10%", "k = 16 of 4 x 16",
     "ML-100K and ML-1M", "NDCG@10, HR@10 and the top-10 list", "a TopK SAE", "RecBole 1.2.1",
     "Webber et al. 2010", "arXiv 2511.18024", "Exercise 2.1 and section 4", "`SEED = 0.25`",
     "[paper](https://arxiv.org/abs/2511.18024v2)", "Last.fm, 3 seeds, top 10"],
)  # fmt: skip
def test_glued_numbers_settings_and_names_pass(allowed):
    assert unglued_numbers(fake_chapter(f"We write {allowed}.")) == []


# -- values glued from a result file agree with it ---------------------------------------------

# the last step of a path may summarise the values it reached
SUMMARIES = {"min": min, "max": max, "mean": statistics.fmean, "median": statistics.median,
             "count": len, "minutes": lambda seconds: seconds / 60}  # fmt: skip


def same(a, b: str) -> bool:
    try:
        return str(a) == b or float(a) == float(b)
    except (TypeError, ValueError):
        return False


def in_result_file(name: str, results: dict) -> object:
    """The value a path-named glue points to in `results` (file stem -> content); see the module
    docstring. peers.json's figures are found by id, as recsae_lite.report reads them."""
    stem, *path = name.split("/")
    node = results[stem]
    if stem == "peers":
        node = {figure["id"]: figure["values"] for figure in node["figures"]}
    for step in path:
        if isinstance(node, dict):
            node = node[step]
        elif "=" in step:  # rows of a table: those whose column has this value
            column, value = step.split("=", 1)
            node = [row for row in node if same(row[column], value)]
        elif step in SUMMARIES:
            node = SUMMARIES[step](node)
        elif node and isinstance(node[0], dict):  # a column of the rows kept
            node = [row[step] for row in node]
        else:
            node = node[int(step)]
    if isinstance(node, list):
        if len(node) != 1:
            raise ValueError(f"{name} matches {len(node)} values: end it with min, max or mean")
        node = node[0]
    return node


def disagreeing(values: dict, results: dict) -> list[str]:
    """The recorded values whose name is a path into a result file and whose value is not there."""
    wrong = []
    for name, value in values.items():
        if name.split("/")[0] in results and "/" in name:
            expected = in_result_file(name, results)
            if isinstance(expected, str) or isinstance(value, str):  # a name: the winner, ...
                if value != expected:
                    wrong.append(f"{name}: glued {value!r}, the file has {expected!r}")
            elif value != pytest.approx(expected, rel=1e-9):
                wrong.append(f"{name}: glued {value!r}, the file has {expected!r}")
    return wrong


def recorded_in_cell(*records) -> nbformat.NotebookNode:
    """What `_nb.record` leaves in a notebook, for each (name, value, fmt), as one executed cell."""
    InteractiveShell.instance()  # a kernel's display machinery, as in a notebook
    with capture_output() as captured:
        for name, value, fmt in records:
            _nb.record(name, value, fmt)
    outputs = [
        nbformat.v4.new_output("display_data", data=out.data, metadata=out.metadata)
        for out in captured.outputs
    ]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=outputs)])


def test_record_glues_invisibly_and_keeps_the_exact_value(tmp_path):
    notebook = recorded_in_cell(("ndcg", 0.0604999, ".3f"), ("verdict", "above", "s"))
    path = tmp_path / "chapter.ipynb"
    nbformat.write(notebook, path)
    assert _nb.recorded(path) == {"ndcg": 0.0604999, "verdict": "above"}
    for output, shown in zip(notebook.cells[0].outputs, ["'0.060'", "'above'"], strict=True):
        assert output.metadata["scrapbook"]["name"] in ("ndcg", "verdict")
        # only a glue mime type: Jupyter and the book show nothing where the cell runs
        assert list(output.data) == ["application/papermill.record/text/plain"]
        assert output.data["application/papermill.record/text/plain"] == shown


RESULTS_FAKE = {
    "peers": {"figures": [{"id": "paper_c.elsa", "values": {"ndcg@20": 0.36, "curve": [1, 2]}}]},
    "recovery": {"summary": {"mf": {"winner": "matryoshka"}}},
    "two_tower": {
        "fidelity": [
            {"model": "ncf", "w_pred": 0.0, "rbo": 0.8},
            {"model": "ncf", "w_pred": 1.0, "rbo": 0.7},
            {"model": "mf", "w_pred": 0.0, "rbo": 0.6},
        ]
    },
}


@pytest.mark.parametrize(
    "name, value",
    [("peers/paper_c.elsa/ndcg@20", 0.36), ("peers/paper_c.elsa/curve/1", 2),
     ("two_tower/fidelity/model=ncf/rbo/min", 0.7), ("two_tower/fidelity/model=ncf/rbo/mean", 0.75),
     ("two_tower/fidelity/model=mf/w_pred=0/rbo", 0.6), ("two_tower/fidelity/model=ncf/count", 2)],
)  # fmt: skip
def test_a_path_name_reads_its_result_file(name, value):
    assert in_result_file(name, RESULTS_FAKE) == pytest.approx(value)
    assert disagreeing({name: value, "elsa_ndcg": 0.5}, RESULTS_FAKE) == []
    assert disagreeing({name: value + 0.01}, RESULTS_FAKE) == [
        f"{name}: glued {value + 0.01!r}, the file has {in_result_file(name, RESULTS_FAKE)!r}"
    ]
    with pytest.raises(ValueError, match="end it with min, max or mean"):
        in_result_file("two_tower/fidelity/model=ncf/rbo", RESULTS_FAKE)


def test_a_glued_name_must_match_its_result_file():
    name = "recovery/summary/mf/winner"
    assert disagreeing({name: "matryoshka"}, RESULTS_FAKE) == []
    assert disagreeing({name: "relu"}, RESULTS_FAKE) == [
        f"{name}: glued 'relu', the file has 'matryoshka'"
    ]


def test_glued_result_figures_agree_with_their_files(ci_notebooks):
    results = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in RESULTS.glob("*.json")}
    checked, wrong = 0, []
    for notebook in sorted(ci_notebooks.glob("*.ipynb")):
        values = _nb.recorded(notebook)
        checked += sum(name.split("/")[0] in results for name in values)
        wrong += [f"{notebook.stem}: {line}" for line in disagreeing(values, results)]
    assert checked, "no chapter glues a figure from a result file"
    assert wrong == []
