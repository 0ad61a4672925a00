"""The package as a learner installs it (Colab: `pip install git+...`, no clone): the wheel holds
every module, the benchmarks' result files that chapter 10 reads and the JavaScript of the in-page
components, and the widgets run under ipywidgets 7.7, the version Colab ships, as well as under 8
(the other tests).

Both tests use pip's registry: setuptools to build the wheel, ipywidgets 7.7 to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the tests that drive recsae_lite/widgets.py's ipywidgets: every widget it builds, moved as a
# reader would (the equalizer and the atlas run in the page: tests/test_browser.py)
WIDGET_TESTS = ["tests/test_two_tower.py::test_value_slider_and_its_frames_use_one_function"]


def pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"


def test_the_wheel_holds_every_module_and_result_file(tmp_path):
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info beside it
    for folder in ("recsae_lite", "benchmarks/results"):
        shutil.copytree(
            ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(tmp_path / "dist"), str(source))
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())

    modules = {path.relative_to(ROOT).as_posix() for path in ROOT.glob("recsae_lite/**/*.py")}
    missing = sorted(modules - inside)
    assert not missing, f"modules left out of the wheel (pyproject.toml's packages): {missing}"
    results = sorted((ROOT / "benchmarks" / "results").glob("*.json"))
    assert results, "no result files in benchmarks/results"
    shipped = {f"recsae_lite/results/{path.name}" for path in results}
    assert shipped <= inside, f"result files left out of the wheel: {sorted(shipped - inside)}"
    static = {path.relative_to(ROOT).as_posix() for path in ROOT.glob("recsae_lite/static/*")}
    assert static, "no static files in recsae_lite/static"
    assert static <= inside, f"static files left out of the wheel: {sorted(static - inside)}"


def test_the_widgets_run_under_ipywidgets_7_7(tmp_path):
    target = tmp_path / "ipywidgets-7.7"
    # ipywidgets 7 also imports ipython_genutils, which 8 dropped; everything else is installed
    pip("install", "--quiet", "--no-deps", "--target", str(target), "ipywidgets==7.7.*",
        "ipython_genutils")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}
    version = subprocess.run(
        [sys.executable, "-c", "import ipywidgets; print(ipywidgets.__version__)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert version.startswith("7.7."), f"the tests would run under ipywidgets {version}"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *WIDGET_TESTS],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 0, f"the widgets fail under ipywidgets {version}:\n{run.stdout}"
    assert f"{len(WIDGET_TESTS)} passed" in run.stdout
