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
import re
import shutil
import threading
from pathlib import Path

import build
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
    results.first.wait_for(timeout=15_000)
    found = [link.get_attribute("href") for link in results.all()]
    assert any(f"{chapter.stem}.html" in href for href in found), (
        f"searching {word!r} did not list {chapter.stem}: {found}"
    )
    assert not errors, "JavaScript errors on the search page:\n" + "\n".join(errors)
