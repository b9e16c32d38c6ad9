"""Screenshot of a tsodso report in headless chromium (for the README's docs/report.png).

    .venv/bin/python scripts/report_screenshot.py out/report.html docs/report.png \
        --from panel-cost --height 1100

Uses Playwright's Python package (test extra) with the system chromium
(``TSODSO_CHROMIUM``, default /usr/bin/chromium); offline, like the browser test.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("png", type=Path)
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--from", dest="start", default="", help="id of the element at the top")
    a = ap.parse_args()
    exe = os.environ.get("TSODSO_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=FLAGS, headless=True)
        page = browser.new_context(
            viewport={"width": a.width, "height": a.height}, offline=True
        ).new_page()
        t0 = time.perf_counter()
        page.goto(a.html.resolve().as_uri(), wait_until="load")
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.plotly-graph-div'))"
            ".every(g => g._fullLayout && g.querySelector('.main-svg'))",
            timeout=120_000,
        )
        rendered = time.perf_counter() - t0
        y = 0.0
        if a.start:
            y = page.evaluate(
                f"() => document.getElementById({a.start!r}).getBoundingClientRect().top"
                " + window.scrollY - 8"
            )
        a.png.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(a.png),
            full_page=True,
            clip={"x": 0, "y": y, "width": a.width, "height": a.height},
        )
        browser.close()
    size = a.png.stat().st_size / 1e3
    print(f"rendered in {rendered:.1f} s; wrote {a.png} ({size:.0f} kB)")


if __name__ == "__main__":
    main()
