"""The report of the small preset in a real browser: Debian's chromium, headless, driven by
Playwright with the system executable (Playwright cannot download browsers here). Every
figure must render, the console must stay free of errors, and the page must make no
request beyond its own file. A screenshot is written to ``out/report-test/`` for review.

Skipped, with the reason, where Playwright or chromium is missing (``TSODSO_CHROMIUM``
names another executable); failed instead where ``TSODSO_REQUIRE_BROWSER`` is set (CI:
``.ci/run`` installs chromium and requires the test to run).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "report-test"

RENDERED = """() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(g => {
  const box = g.getBoundingClientRect();
  return {
    id: g.id,
    traces: g.data ? g.data.length : 0,
    svg: g.querySelectorAll('.main-svg').length,
    drawn: g.querySelectorAll('g.trace, g.sankey, g.hm, g.table').length,
    width: box.width,
    height: box.height,
  };
})"""


def _chromium() -> str | None:
    for c in (
        os.environ.get("TSODSO_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    return None


def _skip(reason: str) -> None:
    if os.environ.get("TSODSO_REQUIRE_BROWSER"):
        pytest.fail(f"{reason}, and TSODSO_REQUIRE_BROWSER is set")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _skip("playwright is not installed (it is in the test extra)")
    exe = _chromium()
    if exe is None:
        _skip("no chromium executable found (apt-get install chromium, or set TSODSO_CHROMIUM)")
    assert exe is not None
    return exe


def test_small_report_renders_offline_in_chromium(small_compare: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    html_file = small_compare / "report.html"
    source = html_file.read_text()
    expected = source.count("Plotly.newPlot(")
    kpis = {
        r["model"]: r["kpis"]
        for r in json.loads((small_compare / "comparison.json").read_text())["results"]
    }
    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=FLAGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1300, "height": 900}, offline=True)
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "console",
                lambda m: (
                    problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            t0 = time.perf_counter()
            page.goto(html_file.as_uri(), wait_until="load")
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('.plotly-graph-div'))"
                ".every(g => g._fullLayout && g.querySelector('.main-svg'))",
                timeout=120_000,
            )
            render_s = time.perf_counter() - t0
            figs = page.evaluate(RENDERED)
            # a dropdown works: the heatmap switched to a model shows that model's count
            page.click("#fig-heatmap .updatemenu-header-group")
            page.click("#fig-heatmap .updatemenu-dropdown-button >> text=smartnet-a")
            shown = page.evaluate(
                """() => {
                  const gd = document.getElementById('fig-heatmap');
                  const t = gd._fullData.find(d => d.visible === true);
                  return [t.name, Array.from(t.z).reduce(
                    (a, row) => a + Array.from(row).reduce((x, y) => x + y, 0), 0)];
                }"""
            )
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shot = SCREENSHOTS / "report-small.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"rendered {len(figs)} figures in {render_s:.1f} s; screenshot {shot}")
    assert len(figs) == expected and expected >= 10
    for f in figs:
        assert f["traces"] > 0 and f["svg"] > 0 and f["drawn"] > 0, f
        assert f["width"] > 300 and f["height"] > 150, f
    assert shown == ["smartnet-a", kpis["smartnet-a"]["voltage_violations"]]
    assert problems == []
    assert requests == [html_file.as_uri()]  # the page itself, nothing else
    assert shot.stat().st_size > 50_000
