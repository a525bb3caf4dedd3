"""A Sphinx extension for drugsim's book: each inline script once per page.

Jupyter Book 1.x puts the inline configuration scripts of sphinx-thebe and sphinx-togglebutton into every page
twice, so each page declared ``const THEBE_JS_URL`` twice and the browser logged "Identifier 'THEBE_JS_URL'
has already been declared" (tests/compendium/test_book_browser.py checks the console). The second copy is
added after the page context is built, so the written pages are tidied once the build has finished: a line
that is an inline ``<script>`` identical to an earlier one on the same page is dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def drop_repeated_inline_scripts(html: str) -> str:
    """``html`` without a second copy of any one-line inline ``<script>...</script>``.

    >>> drop_repeated_inline_scripts("<script>const A = 1</script>\\n<p>x</p>\\n<script>const A = 1</script>\\n")
    '<script>const A = 1</script>\\n<p>x</p>\\n'
    """
    seen, kept = set(), []
    for line in html.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("<script>") and stripped.endswith("</script>"):
            if stripped in seen:
                continue
            seen.add(stripped)
        kept.append(line)
    return "".join(kept)


def tidy_pages(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        tidied = drop_repeated_inline_scripts(text)
        if tidied != text:
            page.write_text(tidied, encoding="utf-8")


def setup(app: Any) -> dict:
    app.connect("build-finished", tidy_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
