"""The built book in a real headless browser, read like a reader at 1280 px and at 390 px (a phone).

Builds the book once per session with the ``tiny`` profile through the runner (fixture ``tiny_book``, the
synthetic part and, when the photos are found, the Grocery Store part), then opens every HTML page in
Debian's Chromium through selenium at both widths: images load, internal links resolve, nothing overflows
the content column, no ``NaN``/``None``/``{'`` or other Python repr text, no image twice on a page, every
figure captioned and numbered, no console error. A screenshot of every page at both widths is saved under
the run's folder (``runs/tiny-synthetic/screenshots/<width>/``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("DRUGSIM_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DRUGSIM_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000", "--hide-scrollbars")
#: The widths a reader's screen has: a laptop and a phone.
WIDTHS = (1280, 390)
#: What an unresolved glue reference or a failed cell looks like in rendered HTML.
BAD_TEXT = ("Traceback (most recent call last)", "{glue:", "glue:text", "glue:figure")

_PAGE_JS = """
return {
  images: Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
  ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
  text: document.body ? document.body.innerText : '',
  tracebacks: document.querySelectorAll('.output.traceback, .output.error, .cell_output .traceback').length,
  title: document.title,
  overflow: (() => {
    const column = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
    const wide = [];
    if (document.documentElement.scrollWidth > window.innerWidth + 1) {
      wide.push(`page ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`);
    }
    if (column.scrollWidth > column.clientWidth + 1) {
      wide.push(`content column ${column.scrollWidth} px wide in ${column.clientWidth} px`);
    }
    const right = column.getBoundingClientRect().right + 1;
    for (const el of column.querySelectorAll('table, img, pre, figure, div.drugsim-table')) {
      let boxed = false;  // inside a box that scrolls on its own: the reader scrolls it, not the page
      for (let up = el.parentElement; up && up !== column; up = up.parentElement) {
        const style = getComputedStyle(up);
        if (['auto', 'scroll'].includes(style.overflowX) || style.display === 'none') { boxed = true; break; }
      }
      if (!boxed && el.getBoundingClientRect().right > right && el.getBoundingClientRect().width > 0) {
        wide.push(`${el.tagName.toLowerCase()} ends at ${Math.round(el.getBoundingClientRect().right)} px, the column at ${Math.round(right)} px`);
      }
    }
    return wide;
  })(),
  shown_images: Array.from(document.querySelectorAll('article img')).filter(i => i.offsetParent !== null)
      .map(i => i.currentSrc || i.getAttribute('src')),
  figures: Array.from(document.querySelectorAll('article figure')).map(f => [
      f.id || (f.querySelector('[id]') || {}).id || '',
      !!f.querySelector('figcaption'), !!f.querySelector('.caption-number')]),
  visible_text: (() => {
    // What the reader reads: the page without its code (code may well say DataFrame(...)).
    const page = (document.querySelector('article.bd-article') || document.body);
    const codes = Array.from(page.querySelectorAll('.cell_input, div.highlight, pre'));
    codes.forEach(c => c.setAttribute('data-drugsim-hidden', c.style.display || ''));
    codes.forEach(c => { c.style.display = 'none'; });
    const text = page.innerText;
    codes.forEach(c => { c.style.display = c.getAttribute('data-drugsim-hidden'); c.removeAttribute('data-drugsim-hidden'); });
    return text;
  })(),
};
"""
#: What a raw Python value looks like in a page: NaN/None cells, dict and list reprs, object reprs.
RAW_VALUE = re.compile(r"(?<![\w-])(NaN|None|nan)(?![\w-])|\{'|\['[^\]]*',|<(Figure|Axes|matplotlib)[^>]*>|"
                       r"\b(array|dtype|DataFrame)\(|<drugsim\.|\bobject at 0x")


def _missing_browser() -> str:
    missing = []
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        missing.append("chromium")
    if not (Path(CHROMEDRIVER).exists() or shutil.which("chromedriver")):
        missing.append("chromium-driver")
    return ", ".join(missing)


@pytest.fixture(scope="module")
def browser():
    missing = _missing_browser()
    if missing:
        pytest.skip(f"headless browser missing: install the Debian package(s) {missing} "
                    f"(apt-get install {missing.replace(',', '')}; `make browser-deps` does it as root)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:  # pragma: no cover - selenium is a dev dependency
        pytest.skip("selenium is not installed: pip install -e '.[dev]'")
    profile_dir = tempfile.mkdtemp(prefix="drugsim-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER if Path(CHROMEDRIVER).exists()
                                              else shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile_dir, ignore_errors=True)


def _shot_name(html: Path, page: Path) -> str:
    return "__".join(page.relative_to(html).with_suffix("").parts) + ".png"


@pytest.fixture(scope="module")
def crawls(tiny_book, browser) -> Dict[int, Dict[Path, dict]]:
    """Every HTML page of the built book opened at each width: images, links, ids, text, layout, console.

    A full-page screenshot of each page at each width goes to ``runs/tiny-synthetic/screenshots/<width>/``
    (``DRUGSIM_SCREENSHOT_DIR`` chooses another folder).
    """
    html = tiny_book / "_build" / "html"
    pages = sorted(p for p in html.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts
                   and p.name not in ("genindex.html", "search.html"))
    assert pages, f"no HTML pages under {html}"
    shots = Path(os.environ.get("DRUGSIM_SCREENSHOT_DIR", tiny_book / "runs" / "tiny-synthetic" / "screenshots"))
    found: Dict[int, Dict[Path, dict]] = {}
    for width in WIDTHS:
        found[width] = {}
        (shots / str(width)).mkdir(parents=True, exist_ok=True)
        for page in pages:
            redirect = re.search(r'http-equiv="refresh"[^>]*url=([^"\s>]+)', page.read_text(encoding="utf-8"), re.I)
            if redirect:  # index.html only forwards to the first page: check the target, not the race
                found[width][page] = {"images": [], "links": [redirect.group(1)], "ids": [], "text": "",
                                      "tracebacks": 0, "title": "", "location": page, "overflow": [],
                                      "shown_images": [], "figures": [], "visible_text": "", "console": []}
                continue
            browser.set_window_size(width, 1000)
            browser.get(page.resolve().as_uri())
            data = browser.execute_script(_PAGE_JS)
            # index.html redirects to the first page: resolve links against where the browser ended up.
            data["location"] = Path(unquote(urlsplit(browser.current_url).path))
            data["console"] = [entry["message"] for entry in browser.get_log("browser")
                               if entry.get("level") == "SEVERE"]
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(width, min(int(height) + 100, 16000))
            browser.save_screenshot(str(shots / str(width) / _shot_name(html, page)))
            found[width][page] = data
    return found


@pytest.fixture(scope="module")
def crawl(crawls) -> Dict[Path, dict]:
    """The pages as the laptop width shows them."""
    return crawls[WIDTHS[0]]


def test_book_has_the_chapters(crawl, tiny_book):
    names = {p.stem for p in crawl}
    assert {"reproducibility", "references"} <= names
    assert tiny_book.joinpath("_build", "html", "book", "generated", "index.html") in crawl, "no generated front page"
    assert any(p.parent.name == "synthetic" for p in crawl), "no chapter of the synthetic run was published"


def test_every_image_loads(crawl):
    broken: List[str] = []
    for page, data in crawl.items():
        for src, complete, width in data["images"]:
            if not complete or not width:
                broken.append(f"{page.name}: {src}")
    assert not broken, "images that did not load:\n  " + "\n  ".join(broken)


def _ids_in(target: Path, cache: Dict[Path, set]) -> set:
    if target not in cache:
        cache[target] = set(re.findall(r'\bid="([^"]+)"', target.read_text(encoding="utf-8", errors="replace")))
    return cache[target]


def test_every_internal_link_resolves(crawl):
    ids_cache: Dict[Path, set] = {data["location"]: set(data["ids"]) for data in crawl.values()}
    broken: List[str] = []
    for page, data in crawl.items():
        for href in data["links"]:
            parts = urlsplit(href)
            if parts.scheme in ("http", "https", "mailto", "javascript", "data"):
                continue
            if parts.scheme == "file":
                target = Path(unquote(parts.path))
            elif parts.path:
                target = (data["location"].parent / unquote(parts.path)).resolve()
            else:
                target = data["location"]
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.name}: {href} (no file {target})")
                continue
            if parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _ids_in(target, ids_cache):
                broken.append(f"{page.name}: {href} (no #{parts.fragment} in {target.name})")
    assert not broken, "internal links that do not resolve:\n  " + "\n  ".join(sorted(set(broken)))


def test_no_traceback_or_unresolved_glue(crawl):
    problems = []
    for page, data in crawl.items():
        for bad in BAD_TEXT:
            if bad in data["text"]:
                problems.append(f"{page.name}: shows {bad!r}")
        if data["tracebacks"]:
            problems.append(f"{page.name}: {data['tracebacks']} error output(s)")
    assert not problems, "\n".join(problems)


def _each_page(crawls):
    for width, pages in crawls.items():
        for page, data in pages.items():
            yield width, page, data


def test_nothing_overflows_the_content_column(crawls):
    """At 1280 px and at 390 px: a wide table scrolls in its own box, never the page or the column."""
    wide = [f"{page.name} at {width} px: {problem}" for width, page, data in _each_page(crawls)
            for problem in data["overflow"]]
    assert not wide, "wider than the content column:\n  " + "\n  ".join(wide)


def test_no_raw_python_value_in_a_page(crawls):
    """No NaN/None cell, dict or list repr, figure or object repr: a page reads as a report."""
    raw = []
    for page, data in crawls[WIDTHS[0]].items():
        for match in RAW_VALUE.finditer(data["visible_text"]):
            context = data["visible_text"][max(0, match.start() - 50): match.end() + 30].replace("\n", " ")
            raw.append(f"{page.name}: {match.group(0)!r} in '...{context}...'")
    assert not raw, "raw Python values on pages:\n  " + "\n  ".join(raw[:40])


def test_no_image_is_shown_twice_on_a_page(crawls):
    twice = []
    for page, data in crawls[WIDTHS[0]].items():
        seen = [src for src in data["shown_images"] if src and not src.endswith(".svg")]
        twice += [f"{page.name}: {src}" for src in sorted(set(seen)) if seen.count(src) > 1]
    assert not twice, "images shown twice:\n  " + "\n  ".join(twice)


def test_every_figure_has_a_caption_and_a_number(crawls):
    bare = [f"{page.name}: figure {fid or '(no id)'} has " + ("no caption" if not caption else "no number")
            for page, data in crawls[WIDTHS[0]].items() for fid, caption, number in data["figures"]
            if not (caption and number)]
    assert not bare, "\n".join(bare)


#: Console messages that depend on this machine's network, not on the book: a CDN (MathJax) unreachable offline.
OFFLINE = re.compile(r"^https?://\S+ - Failed to load resource: net::ERR_(NAME_NOT_RESOLVED|INTERNET_DISCONNECTED|"
                     r"CONNECTION_REFUSED|ADDRESS_UNREACHABLE|NETWORK_ACCESS_DENIED)")


def test_no_console_error(crawls):
    errors = [f"{page.name} at {width} px: {message}" for width, page, data in _each_page(crawls)
              for message in data["console"] if not OFFLINE.match(message)]
    assert not errors, "console errors:\n  " + "\n  ".join(errors)


def test_every_page_has_a_screenshot_at_each_width(crawls, tiny_book):
    shots = Path(os.environ.get("DRUGSIM_SCREENSHOT_DIR", tiny_book / "runs" / "tiny-synthetic" / "screenshots"))
    html = tiny_book / "_build" / "html"
    missing = [f"{width}/{_shot_name(html, page)}" for width, page, data in _each_page(crawls)
               if data["title"] and not (shots / str(width) / _shot_name(html, page)).exists()]
    assert not missing, f"no screenshot under {shots}: {missing}"


def test_the_front_page_opens_with_what_the_run_found(crawl, tiny_book):
    """The first screen states the findings: the verdict (or that it did not run) and results with intervals."""
    front = crawl[tiny_book / "_build" / "html" / "book" / "generated" / "index.html"]["visible_text"]
    found = front.find("What this run found")
    assert 0 <= found < front.find("The task"), "the findings block is not at the top of the front page"
    assert re.search(r"The paper.s conclusions", front) and re.search(r"beside the paper.s", front)  # smart quotes
    assert re.search(r"\d+\.\d % \[\d+\.\d, \d+\.\d\]", front), "no accuracy with its interval on the front page"
