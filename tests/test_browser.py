"""The rendered book in a real browser, with the network off.

The chapters executed with PROFILE=ci (the `ci_notebooks` fixture) are rendered with Jupyter Book 1
into _build/browser and served on localhost; headless Chromium (Debian's `chromium`, driven by
Playwright, which downloads no browser) opens every page, and every request that does not go to
localhost is refused. On every page: no JavaScript error, every plotly figure drawn with data, and
every static steering slider changes its figure; and nothing of the plumbing: no box of a number
the chapter recorded for the tests, no cell of parameters papermill injected, no table cell with
more than 4 decimals, no code line wider than its cell. The search page finds every chapter. A
screenshot of each page is saved under _build/screenshots.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import threading
from pathlib import Path

import build
import page_reference  # tests/page_reference.py
import pytest
from test_pages import too_many_decimals

from recsae_lite import _nb

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright
except ImportError:  # the browser fixture says what to install
    sync_playwright = None

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "browser"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHAPTERS = [chapter.stem for chapter in build.chapters()]
PAGES = ["index", "glossary", "workshop", *CHAPTERS]
# no first-run set-up and no background traffic (updates, sync, field trials): with the network
# off, those connection attempts would fail noisily
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL = (
    "The browser test drives Debian's chromium, which is not installed: `make test` installs it, "
    "or run `apt-get install --no-install-recommends chromium` (as root)."
)

# the marks a figure has drawn: trace graphics (scatter, bar, icicle, ...), heatmap images, table
# cells, WebGL canvases; only those with a size on the page. Each as a string, so that a slider
# step that changes what is drawn changes the list.
MARKS_JS = """div => Array.from(div.querySelectorAll(
    '.main-svg .trace path, .main-svg .trace text, .main-svg .hm image, ' +
    '.main-svg .table-control-view .cell-text, canvas'))
  .filter(el => { const box = el.getBoundingClientRect(); return box.width > 0 || box.height > 0; })
  .map(el => el.tagName + ':' + (el.getAttribute('d') || el.textContent || el.getAttribute('href')
    || el.width))"""

FIGURES_JS = f"""() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(div => ({{
  id: div.id,
  traces: (div._fullData || []).length,
  marks: ({MARKS_JS})(div).length,
  sliders: ((div.layout || {{}}).sliders || []).length,
}}))"""


# what a page shows of the plumbing, every hidden cell opened: the text of every code cell's
# output, of every table cell (HTML tables, and plotly's), the code cells papermill injected, and
# the code cells whose lines are wider than the cell (they scroll sideways)
PLUMBING_JS = """() => (document.querySelectorAll('details').forEach(d => d.open = true), {
  outputs: Array.from(document.querySelectorAll('.cell_output')).map(o => o.innerText),
  cells: Array.from(document.querySelectorAll('table td, .table-control-view .cell-text'))
    .map(c => c.textContent),
  injected: document.querySelectorAll('.tag_injected-parameters').length
    + Array.from(document.querySelectorAll('.cell_input'))
      .filter(c => c.innerText.trim().startsWith('# Parameters')).length,
  too_wide: Array.from(document.querySelectorAll('.cell_input pre'))
    .filter(p => p.scrollWidth > p.clientWidth).map(p => p.textContent.split('\\n')[0]),
})"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(ci_notebooks) -> str:
    """The book rendered from the executed chapters, served on localhost; its address."""
    src = OUT / "src"
    shutil.rmtree(OUT, ignore_errors=True)
    build.assemble(src, ci_notebooks)
    html = build.render(src, OUT)
    handler = functools.partial(QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser_context(site):
    """A headless Chromium whose pages can reach nothing but the served book."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(INSTALL, pytrace=False)
    if sync_playwright is None:
        pytest.fail("playwright is missing: pip install -e '.[test]'", pytrace=False)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        blocked = []  # addresses the book tried to reach outside localhost

        def only_localhost(route):
            if route.request.url.startswith(site + "/"):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", only_localhost)
        yield context, blocked
        browser.close()


@pytest.fixture
def open_page(site, browser_context):
    """open_page(path) -> (page, errors): a fresh tab on the served book, and the list every console
    error, uncaught exception and refused request lands in."""
    context, blocked = browser_context
    opened = []

    def open_page(path: str):
        page = context.new_page()
        opened.append(page)
        errors = []

        def on_console(message):
            if message.type == "error":
                errors.append(f"console: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(f"exception: {error}"))
        blocked.clear()
        page.goto(f"{site}/{path}", wait_until="load")
        errors.extend(f"request outside localhost: {url}" for url in blocked)
        return page, errors

    yield open_page
    for page in opened:
        page.close()


def wait_for_figures(page) -> list[dict]:
    """Wait until plotly has drawn every figure (or 15 s); what each figure shows."""
    try:
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.plotly-graph-div'))"
            ".every(div => div._fullLayout && div.querySelector('.main-svg'))",
            timeout=15_000,
        )
    except PlaywrightTimeout:  # the test says which figure is blank
        pass
    return page.evaluate(FIGURES_JS)


def moves(page, index: int) -> bool:
    """Click the far end of the index-th figure's slider, as a reader would: did the drawn
    marks change?"""
    figure = page.locator(".plotly-graph-div").nth(index)
    marks = f"div => ({MARKS_JS})(div).join('|')"
    before = figure.evaluate(marks)
    rail = figure.locator(".slider-rail-touch-rect").first
    box = rail.bounding_box()
    rail.click(position={"x": box["width"] - 2, "y": box["height"] / 2})
    try:
        page.wait_for_function(
            f"([id, before]) => ({marks})(document.getElementById(id)) !== before",
            arg=[figure.get_attribute("id"), before],
            timeout=5_000,
        )
    except PlaywrightTimeout:
        return False
    return True


@pytest.mark.parametrize("name", PAGES)
def test_page_in_browser(open_page, ci_notebooks, name):
    page, errors = open_page(f"book/{name}.html")
    figures = wait_for_figures(page)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
    assert not errors, f"{name}: JavaScript errors with the network off:\n" + "\n".join(errors)

    shown = page.evaluate(PLUMBING_JS)
    assert not shown["injected"], f"{name}: the parameters cell papermill injected is shown"
    noisy = [text for text in shown["cells"] if too_many_decimals(text)]
    assert not noisy, f"{name}: table cells with more than 4 decimals: {noisy[:10]}"
    assert not shown["too_wide"], f"{name}: code cells wider than the column: {shown['too_wide']}"

    blank = [f["id"] for f in figures if f["traces"] == 0 or f["marks"] == 0]
    assert not blank, f"{name}: plotly figures not drawn (no trace or nothing drawn): {blank}"
    if name in CHAPTERS:
        names = _nb.recorded(ci_notebooks / f"{name}.ipynb")
        lines = {line.strip() for text in shown["outputs"] for line in text.splitlines()}
        pairs = [re.fullmatch(r"(\S+): \S+", line) for line in lines]  # record's old "name: value"
        boxes = [pair.group(0) for pair in pairs if pair and pair.group(1) in names]
        assert not boxes, f"{name}: recorded numbers shown on the page: {sorted(boxes)[:10]}"
        assert figures, f"{name}: no plotly figure on the page (is plotly.js loaded?)"
        colab = build.colab_link(build.config(), f"book/{name}.ipynb")
        assert page.locator(f'a[href="{colab}"]').count(), f"{name}: no Colab launch button"

    stuck = [f["id"] for i, f in enumerate(figures) if f["sliders"] and not moves(page, i)]
    assert not stuck, f"{name}: moving the slider to its last step did not change {stuck}"
    assert not errors, f"{name}: JavaScript errors after moving a slider:\n" + "\n".join(errors)


@pytest.mark.parametrize("chapter", build.chapters(), ids=lambda p: p.stem)
def test_search_finds_chapter(open_page, chapter):
    # the longest word of the chapter's title ("1. The data: MovieLens and ..." -> "MovieLens")
    word = max(re.findall(r"[A-Za-z]+", build.title(chapter)), key=len)
    page, errors = open_page(f"search.html?q={word}")
    results = page.locator("#search-results ul.search li a")
    # Sphinx lists the results one by one, then says "Search finished": read them after that
    page.locator("#search-results p.search-summary", has_text="finished").wait_for(timeout=30_000)
    found = [link.get_attribute("href") for link in results.all()]
    assert any(f"{chapter.stem}.html" in href for href in found), (
        f"searching {word!r} did not list {chapter.stem}: {found}"
    )
    assert not errors, "JavaScript errors on the search page:\n" + "\n".join(errors)


# -- the components that compute in the page (recsae_lite/static/components.js) -----------------

PAGE_BUDGET = 5_000_000  # bytes of one page's HTML (plotly.min.js, shared by every page, apart)


def component_data(root) -> dict:
    return json.loads(root.locator("script[type='application/json']").text_content())


def shown_items(root) -> list[int]:
    rows = root.locator("[data-role=list] tr[data-item]")
    return rows.evaluate_all("rows => rows.map(row => Number(row.dataset.item))")


def test_every_page_fits_the_budget(site):
    pages = {path.name: path.stat().st_size for path in (OUT / "_build" / "html").rglob("*.html")}
    assert pages, "no page rendered"
    big = {name: size for name, size in pages.items() if size >= PAGE_BUDGET}
    assert not big, f"pages of {PAGE_BUDGET:,} bytes or more: {big}"


def test_the_equalizer_shows_the_python_paths_lists(open_page, ci_notebooks):
    """Chapter 5: for each slider setting the chapter wrote down with the list `steered_list`
    gives, the page shows the list computed from its float16 numbers, and that is the Python
    path's, up to swaps of items closer than float16's rounding can tell apart."""
    recorded = _nb.recorded(ci_notebooks / "05_steering_sasrec.ipynb")["equalizer_expected"]
    page, errors = open_page("book/05_steering_sasrec.html")
    root = page.locator(".recsae-equalizer").first
    data = component_data(root)
    sliders = root.locator("input[data-genre]")
    assert sliders.count() == len(data["concepts"]) and len(data["users"]) >= 30
    for setting in json.loads(recorded):
        root.locator("[data-role=user]").select_option(str(setting["place"]))
        values = {}
        for slider in sliders.all():
            genre = slider.get_attribute("data-genre")
            strength = setting["sliders"].get(genre, 0.0)
            slider.fill(f"{strength:g}")
            for j in data["concepts"][genre]:
                values[j] = values.get(j, 0.0) + strength * data["unit"][str(j)]
        free, strength = setting["free"]
        root.locator("[data-role=free-feature]").fill(str(free))
        root.locator("[data-role=free-strength]").fill(f"{strength:g}")
        values[free] = values.get(free, 0.0) + strength * data["unit"][str(free)]
        scores, bound = page_reference.steered(data, setting["place"], values)
        shown = shown_items(root)
        assert shown == page_reference.top10(scores), f"{setting}: the page computed otherwise"
        titles = [data["titles"][item] for item in shown]
        assert not page_reference.disagreements(data, setting["titles"], scores, bound), (
            f"{setting}: the page shows {titles}, the Python path {setting['titles']}"
        )
    assert not errors, "JavaScript errors while steering:\n" + "\n".join(errors)


def test_the_mixer_shows_the_python_paths_lists(open_page, ci_notebooks):
    """Chapter 8: the same for paper C's mix of a genre's features (or one feature) into ELSA's
    code, without the error term."""
    recorded = _nb.recorded(ci_notebooks / "08_knobs_in_elsa.ipynb")["mixer_expected"]
    page, errors = open_page("book/08_knobs_in_elsa.html")
    root = page.locator(".recsae-equalizer").first
    data = component_data(root)
    assert data["mode"] == "mix" and len(data["users"]) >= 30
    for setting in json.loads(recorded):
        root.locator("[data-role=user]").select_option(str(setting["place"]))
        root.locator("[data-role=concept]").select_option(setting["concept"] or "")
        if setting["concept"] is None:  # "one feature": the picker's
            root.locator("[data-role=free-feature]").fill(str(setting["free"]))
        root.locator("[data-role=alpha]").fill(f"{setting['alpha']:g}")
        mixed = data["concepts"][setting["concept"]] if setting["concept"] else [setting["free"]]
        scores, bound = page_reference.steered(data, setting["place"], None, setting["alpha"],
                                               mixed)  # fmt: skip
        shown = shown_items(root)
        assert shown == page_reference.top10(scores), f"{setting}: the page computed otherwise"
        assert not page_reference.disagreements(data, setting["titles"], scores, bound), setting
    assert not errors, "JavaScript errors while mixing:\n" + "\n".join(errors)


def test_the_atlas_finds_features_by_title_and_genre_and_opens_their_dashboard(open_page):
    page, errors = open_page("book/04_sasrec_features.html")
    root = page.locator(".recsae-atlas").first
    data = component_data(root)
    entries, text = data["features"], data["strings"]
    search, results = (
        root.locator("[data-role=search]"),
        root.locator("[data-role=results] tbody tr"),
    )

    def found() -> list[int]:
        return results.evaluate_all("rows => rows.map(row => Number(row.dataset.feature))")

    assert found() == list(range(min(len(entries), 200))), "the atlas lists its features"
    j = next(j for j, f in enumerate(entries) if f["top_items"] and not f["item"])
    title = text[entries[j]["top_items"][0]]
    search.fill(title)
    listed = found()
    assert j in listed, f"searching {title!r} does not find feature {j}, one of whose films it is"
    films = [{text[i] for i in f["top_items"]} | {text[row[0]] for row in f["boosted"][2]}
             for f in entries]  # fmt: skip
    assert all(title in films[k] or title.lower() in entries[k]["label"].lower() for k in listed)

    g = max(range(len(data["genre_names"])), key=lambda g: max(f["input"][g] for f in entries))
    genre = data["genre_names"][g]
    search.fill(genre)  # its features, by their genre score
    associated = [k for k in range(len(entries)) if entries[k]["input"][g] > 0]
    ranked = sorted(associated, key=lambda k: (-entries[k]["input"][g], k))
    assert found() == ranked[:200], f"searching {genre!r}"
    strongest = ranked[0]

    results.first.click()
    dashboard = root.locator("[data-role=dashboard]")
    assert dashboard.get_attribute("data-feature") == str(strongest)
    assert f"Feature {strongest}: {entries[strongest]['label']}" in dashboard.inner_text()
    for name in ("contexts", "boosted"):  # its two tables, every row drawn
        rows = dashboard.locator(f"table[data-role={name}] tbody tr").count()
        assert rows == len(entries[strongest][name][2]) > 0, name
    assert not errors, "JavaScript errors in the atlas:\n" + "\n".join(errors)
