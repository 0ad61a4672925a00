"""The book's build pipeline (no need to read; the Makefile calls it).

    python book/build.py sync     each chapter's .ipynb from its .py, and its learner's copy
                                  (book/handouts/: solutions emptied); the README's chapter table
                                  and each chapter's Colab cell from _config.yml
    python book/build.py check    fail when `sync` would change a file
    python book/build.py execute --profile ci --out _build/ci
    python book/build.py stage --profile quick --out _build/src
                                  execute into the folder and assemble the book's source there
    python book/build.py render --out _build/src
                                  render the staged source with Jupyter Book 1 into _build/html

The repository address lives in one place, `repository.url` in _config.yml; `sync` writes it into
the README's Colab links and into the first cell of every chapter.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CELL_MARK = "\n# %%"
KERNELSPEC = {
    "name": "python3",
    "display_name": "Python 3",
    "language": "python",
}
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
HANDOUTS = BOOK / "handouts"  # the learner's copies: solution cells emptied
LEARNER_NOTE = (
    "*The learner's copy.* Each exercise's solution cell holds only the function's "
    "signature: write its body, run the cell, then run the check below it, which "
    "tells you when the function is right. The teacher's copy, with the solutions, "
    "is `book/{name}`."
)
TABLE_START, TABLE_END = (
    "<!-- chapters: made by book/build.py sync -->",
    "<!-- /chapters -->",
)


TIMES_START, TIMES_END = (
    "<!-- times: made by book/build.py sync from benchmarks/results/book_times.json -->",
    "<!-- /times -->",
)
TIMES = ROOT / "benchmarks" / "results" / "book_times.json"


def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def chapters() -> list[Path]:
    """The chapters' .py sources, in the reading order of _toc.yml."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [entry["file"] for entry in toc["chapters"]]
    return [ROOT / f"{f}.py" for f in files if (ROOT / f"{f}.py").exists()]


def version() -> str:
    """The package's version (recsae_lite/__init__.py), read without importing it."""
    init = (ROOT / "recsae_lite" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "(.+)"$', init, re.MULTILINE).group(1)


def colab_cell(repo_url: str, release: str | None = None) -> str:
    """The first cell of every chapter: in Colab, install recsae-lite at the git tag v{release}
    (default: the package's version), which must exist in the repository."""
    release = release or version()
    return f"""# %% tags=["remove-cell"]
# Colab only (no need to read): install recsae-lite {release}, the version this
# notebook was written for; Colab's own torch and ipywidgets are kept.
import sys

if "google.colab" in sys.modules:
    import subprocess

    repository = "{repo_url}"
    source = f"git+{{repository}}@v{release}"
    print(f"Installing recsae-lite from {{source}} (about a minute) ...")
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    if subprocess.run([*pip, f"recsae-lite @ {{source}}"]).returncode != 0:
        raise RuntimeError(
            f"Installing recsae-lite from {{source}} failed (pip says why "
            "above). Check that this runtime is online and run this cell "
            "again. If the version is not found, install the newest one with "
            f"`!pip install git+{{repository}}` and tell us at "
            f"{{repository}}/issues."
        )
    print("recsae-lite installed.")
"""


def with_colab_cell(source: str, repo_url: str) -> str:
    """A chapter's source with its first cell, the Colab cell, made anew; a chapter written
    without one gets one in front of all of its cells."""
    colab = colab_cell(repo_url)
    if source.startswith(colab.split("\n")[0]) and CELL_MARK in source:
        return colab + source[source.index(CELL_MARK) :]
    return colab + "\n" + source


def title(chapter: Path) -> str:
    match = re.search(
        r"^# # (.+)$", chapter.read_text(encoding="utf-8"), re.MULTILINE
    )
    if match is None:
        raise ValueError(f"{chapter}: no '# # Title' markdown heading found.")
    return match.group(1).strip()


def colab_link(cfg: dict, notebook: str) -> str:
    """The address that opens `notebook` (its path in the repository) in Colab: the README's
    links, and the book's launch buttons (the browser test checks they agree)."""
    repo = cfg["repository"]
    owner_name = repo["url"].removeprefix("https://github.com/").strip("/")
    return f"https://colab.research.google.com/github/{owner_name}/blob/{repo['branch']}/{notebook}"


def readme_table(cfg: dict) -> str:
    rows = [
        "| # | Chapter (with the solutions) | Open | Learner's copy |",
        "|---|---|---|---|",
    ]
    for py in chapters():
        nb = py.with_suffix(".ipynb").relative_to(ROOT).as_posix()
        badge = f"[![Open in Colab]({BADGE})]({colab_link(cfg, nb)})"
        handout = handout_path(py).relative_to(ROOT).as_posix()
        learner = f"[![Open in Colab]({BADGE})]({colab_link(cfg, handout)})"
        row = f"| {py.stem[:2]} | [{title(py)}]({nb}) | {badge} | {learner} |"
        rows.append(row)
    return "\n".join([TABLE_START, *rows, TABLE_END])


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def times_table() -> str:
    """The time of each chapter as `benchmarks/book_times.py` measured it: in the ci profile, and
    in the book's profile in order (what earlier chapters cached is loaded) and alone (from an
    empty zoo, as a reader who opens only that chapter)."""
    times = json.loads(TIMES.read_text(encoding="utf-8"))
    profile, seconds = times["profile"], times["chapter_seconds"]
    # {profile: {chapter: seconds}}, or a sentence saying why it was not measured
    alone = times.get("alone_seconds")
    alone = alone.get(profile, {}) if isinstance(alone, dict) else {}
    rows = [
        f"| chapter | `ci` | `{profile}`, in order | `{profile}`, opened alone |",
        "|---|---|---|---|",
    ]
    for py in chapters():
        ci, ordered = seconds["ci"].get(py.stem), seconds[profile].get(py.stem)
        cells = [duration(t) if t is not None else "not measured" for t in
                 (ci, ordered, alone.get(py.stem))]  # fmt: skip
        rows.append(f"| {title(py)} | {' | '.join(cells)} |")
    totals = [duration(sum(seconds[p].values())) for p in ("ci", profile)]
    rows.append(f"| the whole book | {totals[0]} | {totals[1]} | |")
    return "\n".join([TIMES_START, *rows, TIMES_END])


def between(path: Path, start: str, end: str, table: str) -> str:
    """The text of `path` with what lies between its markers start ... end replaced by table."""
    text = path.read_text(encoding="utf-8")
    first, last = text.find(start), text.find(end)
    if first < 0 or last < 0:
        raise ValueError(f"{path}: the markers {start} ... {end} are missing.")
    return text[:first] + table + text[last + len(end) :]


def handout_path(chapter: Path) -> Path:
    """Where the learner's copy of a chapter goes: book/handouts/NN_name.ipynb."""
    return HANDOUTS / chapter.with_suffix(".ipynb").name


def without_solutions(notebook, name: str) -> None:
    """The learner's copy: each cell tagged `solution` keeps only the signature
    and docstring of the functions it defines, whose body says what to do; the
    cells tagged `teacher` are left out; and a note under the Colab cell says
    so."""
    for cell in notebook.cells:
        if "solution" not in cell.metadata.get("tags", []):
            continue
        lines, stubs = cell.source.splitlines(), []
        for node in ast.parse(cell.source).body:
            if not isinstance(node, ast.FunctionDef):
                continue  # an import the solution used: the learner picks their own
            first = node.body[0]  # its docstring, if it has one
            head = (
                first.end_lineno
                if ast.get_docstring(node)
                else first.lineno - 1
            )
            todo = "write it: the task is above, its check below"
            stub = [
                *lines[node.lineno - 1 : head],
                f'    raise NotImplementedError("{todo}")',
            ]
            stubs.append("\n".join(stub))
        cell.source = "\n\n\n".join(stubs)
        # shown, not hidden behind a toggle
        cell.metadata["tags"] = ["solution"]
    # the notes for the teacher (what a "predict, then check" exercise shows) stay out
    notebook.cells = [
        cell
        for cell in notebook.cells
        if "teacher" not in cell.metadata.get("tags", [])
    ]
    note = nbformat.v4.new_markdown_cell(LEARNER_NOTE.format(name=name))
    notebook.cells.insert(1, note)


def notebook_text(source: str, teacher: str | None = None) -> str:
    """The .ipynb of a py:percent source, with cell ids made from the cells' text (jupytext would
    draw random ones, and every sync would change every notebook). With `teacher`, the name of
    the chapter's notebook: its learner's copy, without the solutions."""
    notebook = jupytext.reads(source, fmt="py:percent")
    if teacher is not None:
        without_solutions(notebook, teacher)
    notebook.metadata["kernelspec"] = KERNELSPEC
    notebook.metadata["language_info"] = {"name": "python"}
    seen = set()
    for cell in notebook.cells:
        cell.id = hashlib.sha1(cell.source.encode()).hexdigest()[:8]
        while cell.id in seen:
            cell.id = hashlib.sha1(cell.id.encode()).hexdigest()[:8]
        seen.add(cell.id)
    return jupytext.writes(notebook, fmt="ipynb")


def synced() -> dict[Path, str]:
    """What every generated text should be: {path: content}."""
    cfg = config()
    out = {}
    readme = ROOT / "README.md"
    out[readme] = between(readme, TABLE_START, TABLE_END, readme_table(cfg))
    for page in (BOOK / "index.md", BOOK / "workshop.md"):
        out[page] = between(page, TIMES_START, TIMES_END, times_table())
    for py in chapters():
        out[py] = with_colab_cell(
            py.read_text(encoding="utf-8"), cfg["repository"]["url"]
        )
        out[py.with_suffix(".ipynb")] = notebook_text(out[py])
        teacher = py.with_suffix(".ipynb").name
        out[handout_path(py)] = notebook_text(out[py], teacher)
    return out


def sync() -> None:
    HANDOUTS.mkdir(exist_ok=True)
    for path, content in synced().items():
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
            print(f"updated {path.relative_to(ROOT)}")


def stale() -> list[str]:
    """Files that `sync` would change (the tests call this)."""
    return [
        str(path.relative_to(ROOT))
        for path, content in synced().items()
        if not path.exists() or path.read_text(encoding="utf-8") != content
    ]


def execute(
    profile: str,
    out: Path,
    timeout: int = 3600,
    device: str | None = None,
    first_cell: str | None = None,
    only: list[str] | None = None,
) -> dict[str, float]:
    """papermill every chapter (or those named in `only`, e.g. "03_training_saes") into `out`,
    stopping at the first failure; seconds per chapter.

    device: the chapters' DEVICE (None: their own, "auto"); first_cell: code to run before each
    chapter (tests/test_book.py puts the virtual CUDA device there)."""
    import nbformat
    import papermill

    out.mkdir(parents=True, exist_ok=True)
    parameters = {"PROFILE": profile, **({"DEVICE": device} if device else {})}
    seconds = {}
    for py in chapters():
        if only is not None and py.stem not in only:
            continue
        nb = source = py.with_suffix(".ipynb")
        if first_cell is not None:
            source = nbformat.read(nb, as_version=4)
            source.cells.insert(0, nbformat.v4.new_code_cell(first_cell))
        start = time.perf_counter()
        settings = ", ".join(
            f"{name}={value}" for name, value in parameters.items()
        )
        print(f"executing {nb.name} ({settings}) ...", flush=True)
        papermill.execute_notebook(
            source,
            out / nb.name,
            parameters=parameters,
            kernel_name="python3",
            cwd=str(BOOK),
            execution_timeout=timeout,
            progress_bar=False,
        )
        seconds[nb.stem] = round(time.perf_counter() - start, 1)
        print(f"  {seconds[nb.stem]:.1f} s", flush=True)
    (out / "timings.json").write_text(
        json.dumps({"profile": profile, "seconds": seconds}, indent=1)
    )
    return seconds


def assemble(src: Path, executed: Path) -> None:
    """Assemble the Jupyter Book source in `src`: config, pages, the Sphinx extension, plotly.js,
    the book's CSS and the chapters executed into `executed` (copied into src/book unless
    already there), their injected parameters hidden."""
    import plotly

    book = src / "book"
    book.mkdir(parents=True, exist_ok=True)
    if executed.resolve() != book.resolve():
        for nb in executed.glob("*.ipynb"):
            shutil.copy(nb, book / nb.name)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, src / name)
    for page in [*BOOK.glob("*.md"), BOOK / "sphinx_fixes.py"]:
        shutil.copy(page, book / page.name)
    for notebook in book.glob("*.ipynb"):
        hide_injected_parameters(notebook)
    assets = src / "assets"
    assets.mkdir(exist_ok=True)
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    shutil.copy(plotly_js, assets)
    shutil.copy(BOOK / "book.css", assets)


def hide_injected_parameters(notebook: Path) -> None:
    """Hide the cell of parameters papermill adds below the parameters cell: plumbing."""
    content = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in content["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    notebook.write_text(
        json.dumps(content, indent=1, ensure_ascii=False), encoding="utf-8"
    )


def stage(profile: str, src: Path, timeout: int) -> None:
    """Execute every chapter into src/book and assemble the book's source around them."""
    if src.exists():
        shutil.rmtree(src)
    execute(profile, src / "book", timeout)
    assemble(src, src / "book")


def render(src: Path, out: Path) -> Path:
    """Jupyter Book 1 renders the assembled source into out/_build/html (any warning fails)."""
    jupyter_book = Path(sys.executable).with_name(
        "jupyter-book"
    )  # this environment's
    command = [
        jupyter_book,
        "build",
        src,
        "--path-output",
        out,
        "--warningiserror",
        "--quiet",
    ]
    subprocess.run([str(part) for part in command], check=True)
    return out / "_build" / "html"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", choices=["sync", "check", "execute", "stage", "render"]
    )
    parser.add_argument(
        "--profile", default="quick", choices=["ci", "quick", "full"]
    )
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "ci")
    parser.add_argument(
        "--timeout", type=int, default=3600, help="seconds per cell"
    )
    args = parser.parse_args(argv)
    if args.command == "sync":
        sync()
    elif args.command == "check":
        if files := stale():
            print(
                "out of date (run `python book/build.py sync`):",
                *files,
                sep="\n  ",
            )
            return 1
    elif args.command == "execute":
        execute(args.profile, args.out, args.timeout)
    elif args.command == "stage":
        stage(args.profile, args.out, args.timeout)
    else:
        render(args.out, ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
