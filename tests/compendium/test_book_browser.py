"""The built book in a real headless browser: images load, internal links resolve, no tracebacks.

Builds the book once per session with the ``tiny`` profile through the runner (fixture ``tiny_book``),
then opens every HTML page in Debian's Chromium through selenium.
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
                "--disable-dev-shm-usage", "--window-size=1280,1000")
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
};
"""


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
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER if Path(CHROMEDRIVER).exists()
                                              else shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def crawl(tiny_book, browser) -> Dict[Path, dict]:
    """Every HTML page of the built book, opened in the browser: images, links, element ids and text."""
    html = tiny_book / "_build" / "html"
    pages = sorted(p for p in html.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)
    assert pages, f"no HTML pages under {html}"
    found = {}
    for page in pages:
        redirect = re.search(r'http-equiv="refresh"[^>]*url=([^"\s>]+)', page.read_text(encoding="utf-8"), re.I)
        if redirect:  # index.html only forwards to the first page: check the target, not the race
            found[page] = {"images": [], "links": [redirect.group(1)], "ids": [], "text": "", "tracebacks": 0,
                           "title": "", "location": page}
            continue
        browser.get(page.resolve().as_uri())
        data = browser.execute_script(_PAGE_JS)
        # index.html redirects to the first page: resolve links against where the browser ended up.
        data["location"] = Path(unquote(urlsplit(browser.current_url).path))
        found[page] = data
    shots = Path(os.environ.get("DRUGSIM_SCREENSHOT_DIR", tiny_book / "_build" / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    chapters = [p for p in pages if "generated" in p.parts]
    for name, page in (("index", html / "book" / "intro.html"), ("chapter", chapters[0] if chapters else None),
                       ("summary", next((p for p in chapters if p.stem == "13_summary"), None)),
                       ("reproducibility", html / "book" / "generated" / "reproducibility.html")):
        if page is not None and page.exists():
            browser.get(page.resolve().as_uri())
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.set_window_size(1280, min(int(height) + 100, 6000))
            browser.save_screenshot(str(shots / f"{name}.png"))
            browser.set_window_size(1280, 1000)
    return found


def test_book_has_the_chapters(crawl, tiny_book):
    names = {p.stem for p in crawl}
    assert {"intro", "reproducibility", "references"} <= names
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
