"""The book: generated files in sync, every chapter's first cells, and every chapter executed.

The chapters run with PROFILE=ci into _build/ci, where the second step of `make test` re-executes
them with nbval (a chapter must reproduce its own outputs from its seed).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import build  # book/build.py, the pipeline (tests/conftest.py puts book/ on the path)
import jupytext
import nbformat
import numpy as np
import pytest

from recsae_lite import _nb
from recsae_lite.data import leave_one_out, load_dataset

ROOT = Path(__file__).resolve().parent.parent

CHAPTERS = build.chapters()


def test_every_chapter_is_in_the_toc():
    on_disk = sorted(ROOT.glob("book/[0-9][0-9]_*.py"))
    assert on_disk, "no chapters found in book/"
    assert sorted(CHAPTERS) == on_disk


def test_generated_files_are_in_sync():
    # README table, Colab cells and each .ipynb are made from _config.yml and the .py sources
    assert build.stale() == [], "run `make notebooks` (book/build.py sync) and commit the result"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_first_cells(chapter):
    cells = jupytext.read(chapter).cells
    colab = cells[0]
    assert colab.metadata.get("tags") == ["remove-cell"]
    assert 'if "google.colab" in sys.modules:' in colab.source
    code = [line for line in colab.source.splitlines() if not line.lstrip().startswith("#")]
    for forbidden in ("torch", "--upgrade", "-U", "--force-reinstall"):
        assert forbidden not in " ".join(code), "the Colab cell must leave Colab's torch alone"
    assert build.config()["repository"]["url"] in colab.source

    parameters = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1, "one parameters cell per chapter"
    names = {t.id for node in ast.parse(parameters[0].source).body for t in node.targets}
    assert {"PROFILE", "SEED", "DEVICE"} <= names


# the paper each chapter reproduces or teaches: its arXiv number, which the chapter's first
# section must link (A: 2507.12202, B: 2511.18024, C: 2601.11182; the SAE variants: Gao et al.
# 2406.04093, Bussmann et al. 2503.17547; SASRec+: Klenitskiy and Vasilev 2309.07602)
PAPERS = {
    "01_data": ["2507.12202", "2511.18024", "2601.11182"],
    "02_base_models": ["2309.07602"],
    "03_training_saes": ["2406.04093"],
    "04_sasrec_features": ["2507.12202"],
    "05_steering_sasrec": ["2507.12202"],
    "06_two_tower_concepts": ["2511.18024"],
    "07_matryoshka_hierarchies": ["2503.17547"],
    "08_knobs_in_elsa": ["2601.11182"],
    "09_ground_truth": ["2507.12202", "2511.18024", "2601.11182"],
    "10_reproduction_report": ["2507.12202", "2511.18024", "2601.11182"],
}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_first_section_links_its_paper(chapter):
    cells = jupytext.read(chapter).cells
    first = next(cell for cell in cells if cell.cell_type == "markdown")  # title to first code
    links = re.findall(r"\]\((https?://[^)\s]+)\)", first.source)
    for number in PAPERS[chapter.stem]:
        assert f"https://arxiv.org/abs/{number}" in links, f"{chapter.name} does not link {number}"
    assert "**Before this chapter:**" in first.source, f"{chapter.name}: no prerequisites"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_notebooks_are_committed_without_outputs(chapter):
    notebook = jupytext.read(chapter.with_suffix(".ipynb"))
    assert not any(cell.get("outputs") for cell in notebook.cells)


def solution_cells(notebook: Path) -> list:
    cells = jupytext.read(notebook).cells
    return [cell for cell in cells if "solution" in cell.metadata.get("tags", [])]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_learner_copy_holds_no_solution_code(chapter):
    teacher, handout = chapter.with_suffix(".ipynb"), build.handout_path(chapter)
    assert handout.exists(), f"no learner's copy {handout.name}: run book/build.py sync"
    solutions, stubs = solution_cells(teacher), solution_cells(handout)
    assert len(stubs) == len(solutions)
    for solution, stub in zip(solutions, stubs, strict=True):
        wanted = [n.name for n in ast.parse(solution.source).body if hasattr(n, "name")]
        functions = ast.parse(stub.source).body
        assert [f.name for f in functions] == wanted  # the same functions, to write
        for function in functions:  # a docstring at most, then the request to write it
            *docstring, body = function.body
            assert all(isinstance(node, ast.Expr) for node in docstring)
            assert isinstance(body, ast.Raise), ast.unparse(function)
    # every other cell is the teacher's, but the notes for the teacher, which the learner's
    # copy leaves out; each chapter has at least one (its "predict, then check" exercise)
    notes = [c for c in jupytext.read(teacher).cells if "teacher" in c.metadata.get("tags", [])]
    assert notes, f"{chapter.name}: no exercise with a note for the teacher"
    others = [c.source for c in jupytext.read(teacher).cells if c not in solutions + notes]
    kept = [c.source for c in jupytext.read(handout).cells if c not in stubs]
    assert [source for source in kept if source in others] == others
    assert not [c for c in jupytext.read(handout).cells if "teacher" in c.metadata.get("tags", [])]


def test_sync_keeps_every_cell_of_a_chapter_written_without_a_colab_cell():
    url = build.config()["repository"]["url"]
    new = '# %% [markdown]\n# # 11. A new chapter\n\n# %% tags=["parameters"]\nSEED = 0\n'
    synced = build.with_colab_cell(new, url)
    assert synced.startswith(build.colab_cell(url)) and synced.endswith(new)
    assert build.with_colab_cell(synced, url) == synced  # made anew, not added twice


def test_long_cells_say_how_long_they_took(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    _nb.time_long_cells(threshold=0.05)
    _nb.time_long_cells(threshold=0.05)  # set up twice (a re-run setup cell): printed once
    shell.run_cell("import time; time.sleep(0.1)")
    shell.run_cell("1 + 1")  # a quick cell says nothing
    assert capsys.readouterr().out.count("s elapsed") == 1
    _nb.time_long_cells(on=False)  # the ci profile: nothing printed
    shell.run_cell("import time; time.sleep(0.1)")
    assert "elapsed" not in capsys.readouterr().out


def test_pick_names_a_wrong_profile():
    assert _nb.pick("ci", ci=1, quick=2, full=3) == 1
    with pytest.raises(ValueError, match="PROFILE='fast'"):
        _nb.pick("fast", ci=1, quick=2, full=3)
    with pytest.raises(TypeError, match="full"):
        _nb.pick("ci", ci=1, quick=2)


@pytest.fixture(scope="session")
def executed(ci_notebooks) -> dict[str, dict[str, float]]:
    return {nb.stem: _nb.recorded(nb) for nb in sorted(ci_notebooks.glob("*.ipynb"))}


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> Path:
    """The package as a learner installs it: built by pip from a git URL of this checkout (its
    committed HEAD: `pip install git+...`, as the Colab cell does), not the editable copy, into a
    folder of its own. Without a .git folder (an exported tree), from the folder itself."""
    target = tmp_path_factory.mktemp("installed")
    source = f"git+file://{ROOT}" if (ROOT / ".git").exists() else str(ROOT)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
               str(target), f"recsae-lite @ {source}"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr}"
    return target


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_a_chapter_runs_alone(chapter, installed, tmp_path, monkeypatch):
    """A learner may open any chapter first (in Colab, say): alone in an empty folder, with the
    package installed from git and an empty model zoo, it trains the models and SAEs it needs
    and finds its data and result files, instead of expecting a clone or earlier chapters."""
    import papermill

    zoo, folder = tmp_path / "zoo", tmp_path / "alone"
    folder.mkdir()
    notebook = folder / chapter.with_suffix(".ipynb").name
    shutil.copy(chapter.with_suffix(".ipynb"), notebook)
    monkeypatch.setenv("RECSAE_ZOO", str(zoo))
    monkeypatch.setenv("PYTHONPATH", str(installed))  # the kernel imports the installed copy
    source = nbformat.read(notebook, as_version=4)
    check = f"import recsae_lite\nassert recsae_lite.__file__.startswith({str(installed)!r})"
    source.cells.insert(0, nbformat.v4.new_code_cell(check))
    nbformat.write(source, notebook)
    out = folder / "executed.ipynb"
    papermill.execute_notebook(notebook, out, parameters={"PROFILE": "ci"},
                               kernel_name="python3", cwd=str(folder))  # fmt: skip
    assert _nb.recorded(out), f"{chapter.name} recorded no numbers"
    if chapter.stem not in ("01_data", "10_reproduction_report"):  # these train nothing
        assert any(zoo.rglob("*.safetensors")), "it trained nothing into the empty zoo"


def test_every_chapter_executes(executed):
    assert sorted(executed) == [c.stem for c in CHAPTERS]


def test_a_ci_page_says_its_numbers_are_not_the_books(ci_notebooks):
    # the ci profile's tiny models give numbers the prose contradicts (FVU above 1, SASRec below
    # popularity): every chapter run in ci says so where its set-up runs, in words a reader sees
    for notebook in sorted(ci_notebooks.glob("*.ipynb")):
        shown = [output.get("data", {}).get("text/markdown", "")
                 for cell in nbformat.read(notebook, as_version=4).cells
                 for output in cell.get("outputs", [])]  # fmt: skip
        assert _nb.CI_NOTE in shown, f"{notebook.name} does not show the ci note"


@pytest.mark.virtual_gpu
def test_every_chapter_runs_on_a_virtual_gpu(monkeypatch):
    """Every chapter in the ci profile with DEVICE="cuda", on the virtual CUDA device
    (tests/virtual_cuda.py, enabled by a first cell): code that would fail on a GPU (mixed
    devices, .numpy() of a device tensor, an op CUDA cannot run deterministically, ...) fails
    here. An empty model zoo, so the chapters train on the device, and later ones load."""
    out = ROOT / "_build" / "ci-virtual-gpu"
    zoo = ROOT / "_build" / "ci-virtual-gpu-zoo"
    for folder in (out, zoo):
        shutil.rmtree(folder, ignore_errors=True)
    monkeypatch.setenv("RECSAE_ZOO", str(zoo))
    tests = str(ROOT / "tests")
    first_cell = (
        f"import sys\n\nsys.path.insert(0, {tests!r})\nimport virtual_cuda\n\nvirtual_cuda.enable()"
    )
    build.execute("ci", out, timeout=900, device="cuda", first_cell=first_cell)
    for notebook in sorted(out.glob("*.ipynb")):
        assert _nb.recorded(notebook), f"{notebook.name} recorded no numbers"


def test_data_chapter_numbers(executed):
    numbers = executed["01_data"]
    assert numbers["n_users"] == 943
    assert numbers["n_items"] == 1682
    assert numbers["n_interactions"] == 100_000
    assert numbers["density"] == pytest.approx(100_000 / (943 * 1682))
    assert numbers["split_users"] == 943 and numbers["split_users_dropped"] == 0
    # the ties DESIGN.md documents: last two interactions at the same second
    assert numbers["users_with_tied_last_two"] == 415
    assert 0.3 < numbers["share_of_interactions_top10pct_items"] < 0.6
    # the generator's promise: every interaction is with an item of a preferred concept
    assert numbers["synthetic_share_on_preferred_concept"] == 1.0


def test_base_models_chapter_numbers(executed):
    numbers = executed["02_base_models"]
    # the popularity baseline needs no training: recompute its NDCG@10 here, in plain numpy
    split = leave_one_out(load_dataset("ml-100k"))
    counts = np.bincount(np.concatenate(split.train), minlength=1682).astype(float)
    gains = []
    for history, target in zip(split.history("test"), split.test, strict=True):
        scores = counts.copy()
        scores[history] = -np.inf
        rank = (scores >= scores[target]).sum() - 1  # ties count against the target
        gains.append(1 / np.log2(rank + 2) if rank < 10 else 0.0)
    assert numbers["pop_test_ndcg@10"] == pytest.approx(np.mean(gains), abs=1e-6)
    for name in ("mf", "ncf", "neumf", "elsa", "sasrec"):
        assert 0.0 <= numbers[f"{name}_test_ndcg@10"] <= numbers[f"{name}_test_hr@10"] <= 1.0


def test_training_saes_chapter_numbers(executed):
    numbers = executed["03_training_saes"]
    # superposition: the SAE finds the planted directions, the principal components cannot
    assert numbers["toy_mean_best_cosine_sae"] > 0.9 > numbers["toy_mean_best_cosine_pca"]
    for k in (4, 16):  # TopK keeps exactly k latents per sample
        assert numbers[f"topk_k{k}_l0"] == k
        assert 0 < numbers[f"batchtopk_k{k}_l0"] <= 2 * k  # k on average, by a fitted threshold


def test_training_saes_chapter_writes_an_sae_from_scratch(executed):
    numbers = executed["03_training_saes"]
    # it finds the planted directions, and computes what the library's SAE computes
    assert numbers["toy_scratch_mean_best_cosine"] > 0.9
    assert numbers["toy_scratch_library_gap"] < 1e-5


def test_features_chapter_numbers(executed):
    numbers = executed["04_sasrec_features"]
    for kind, units in (("sae", 16 * 16), ("raw", 32), ("rotation", 32)):  # ci: hidden size 16
        for view in ("input", "predicted"):
            assert 0 <= numbers[f"{kind}_{view}_pass"] <= units
            assert 0.0 <= numbers[f"{kind}_{view}_pass_share"] <= 1.0
    assert 0 <= numbers["sae_item_features"] < 16 * 16


def test_steering_chapter_numbers(executed):
    numbers = executed["05_steering_sasrec"]
    # the edit written out in the chapter computes what feature_edit computes
    assert numbers["edit_by_hand_gap"] < 1e-5
    assert numbers["strength_zero_max_change"] == 0.0  # the error term is kept: exactly h
    assert numbers["genres_steered"] == 18  # ML-100K genres with at least 20 films
    for method in ("association", "effect", "spread", "probe", "centroid"):
        assert 0 <= numbers[f"{method}_genres_tripled"] <= 18
        assert numbers[f"{method}_median_share_x"] > 0
    assert 0.0 <= numbers["popular_share_moderate"] <= 1.0
    # the showcase works: the static equalizer's user had none of the genre, and at the top
    # strength the genre is at least half of the list the figure shows
    assert numbers["showcase_share_start"] == 0.0
    assert numbers["showcase_share_top"] >= 0.5


def test_two_tower_chapter_numbers(executed):
    numbers = executed["06_two_tower_concepts"]
    # the prediction-aware term written out in the chapter computes the library's
    assert numbers["prediction_term_gap"] < 1e-5
    for name in ("mf", "ncf"):
        for w in (0, 5):  # the ci profile's prediction weights
            assert 0.0 <= numbers[f"{name}_w{w}_rbo"] <= 1.0
            assert -1.0 <= numbers[f"{name}_w{w}_tau"] <= 1.0
        for units in ("SAE_256", "SAE_22", "raw_dims"):
            assert 0.0 <= numbers[f"{name}_{units}_purity10"] <= 1.0
        # the sparsity sweep's k = 16 is the ablation's w_pred = 0 SAE, not another one
        assert numbers[f"{name}_k16_rbo"] == numbers[f"{name}_w0_rbo"]
        assert 0.0 <= numbers[f"{name}_k4_rbo"] <= 1.0
        for prefix in (32, 96, 256):
            assert 0.0 <= numbers[f"{name}_matryoshka_prefix{prefix}_rbo"] <= 1.0
    for key in ("genre_share_before", "genre_share_filtered", "genre_share_nudged"):
        assert 0.0 <= numbers[key] <= 1.0
    # the showcase brings its genre: the shown user had none of it, and at the top value the
    # list the figure shows holds some (the ci MF, 2 epochs, reaches 0.2; quick: the chapter)
    assert numbers["showcase_share_start"] == 0.0
    assert numbers["showcase_share_top"] > 0.0
    assert numbers["effect_feature_share"] >= numbers["purity_feature_effect_share"]


def test_matryoshka_chapter_numbers(executed):
    numbers = executed["07_matryoshka_hierarchies"]
    for variant in ("matryoshka", "batchtopk"):
        assert 0.0 <= numbers[f"synthetic_{variant}_agreement"] <= 1.0
        assert 0.0 < numbers[f"synthetic_{variant}_parent_f1"] <= 1.0
        for group in (0, 2):
            assert 0.0 < numbers[f"mf_{variant}_group{group}_popularity"] <= 1.0
            assert 0.0 <= numbers[f"sasrec_{variant}_group{group}_genre_entropy"] <= np.log2(19)


def test_knobs_chapter_numbers(executed):
    numbers = executed["08_knobs_in_elsa"]
    # paper C's two maps written out in the chapter choose the library's features
    assert numbers["best_characterizes_by_hand_agrees"] == 1.0
    assert numbers["most_unique_by_hand_agrees"] == 1.0
    assert 0.0 < numbers["sae_k16_ndcg"] <= 1.0 and 0.0 < numbers["elsa_ndcg"] <= 1.0
    assert 0 < numbers["steerable_users"] <= 94
    assert 0.0 < numbers["split_ndcg_min"] <= numbers["split_ndcg_max"] <= 1.0
    for n in (1, 5):  # alpha 0 is no steering: the same lists whatever the neurons
        no_push = numbers[f"best_characterizes_{n}_a0_personal"]
        assert no_push == numbers["best_characterizes_1_a0_personal"]
        assert (
            numbers[f"best_characterizes_{n}_a0.5_segment"]
            > numbers[f"best_characterizes_{n}_a0_segment"]
        )
    # the showcase works: the shown user had none of the genre, and at alpha 1 the genre is at
    # least half of the list the figure shows
    assert numbers["showcase_share_start"] == 0.0
    assert numbers["showcase_share_top"] >= 0.5


def test_report_chapter_reads_the_committed_results(executed):
    from recsae_lite import report

    numbers = executed["10_reproduction_report"]
    results = report.load()
    table = report.claims(results)
    assert numbers["claims"] == len(report.CLAIMS)
    assert numbers["claims_measured"] == (table["verdict"] != report.UNMEASURED).sum()
    assert numbers["claims_holding"] == (table["verdict"] == report.HOLDS).sum()
    models = results["base_models"]["models"]
    for name in ("pop", "mf", "ncf", "elsa", "sasrec"):
        assert numbers[f"{name}_ndcg@10"] == pytest.approx(models[name]["test"]["ndcg@10"])
    assert numbers["gpu_result_files"] == len(report.gpu_results(results))


def test_ground_truth_chapter_numbers(executed):
    numbers = executed["09_ground_truth"]
    variants = ("relu", "topk", "batchtopk", "matryoshka")
    for name in ("sasrec", "mf", "elsa"):
        assert numbers[f"{name}_topk_l0"] == 4  # matched sparsity: TopK keeps exactly k
        for variant in variants:
            assert 0.0 <= numbers[f"{name}_{variant}_recovered"] <= 1.0
            assert 0.0 <= numbers[f"{name}_{variant}_agreement"] <= 1.0
        # the features know something of the concepts: better than the same firing, shuffled
        f1 = np.mean([numbers[f"{name}_{v}_f1"] for v in variants])
        assert f1 > np.mean([numbers[f"{name}_{v}_chance_f1"] for v in variants])
        # strength 0 is no edit, whichever feature; the matched feature raises its true concept
        assert numbers[f"{name}_matched_share_s0"] == numbers[f"{name}_tfidf_share_s0"]
        assert numbers[f"{name}_matched_share_s2"] > numbers[f"{name}_matched_share_s0"]
        for metric in ("association", "purity@10", "tf-idf_hits", "recovered"):
            for labels in ("true", "noisy"):
                assert 0.0 <= numbers[f"{name}_{metric}_order_{labels}"] <= 1.0
