"""The search experience in a real browser (Playwright + Debian's Chromium, the real app and node):
drag across the attention chart to filter by date, compare queries, download the series and the chart,
export chosen columns with the full text, paste a URL, and an axe-core accessibility check of the pages.

Screenshots go to ``artifacts/screenshots/`` (not committed).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest

import search_archive as sa
from test_browser import SHOTS, base_url, browser, page, shot  # noqa: F401  (the app, Chromium, a fresh page)

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


def chart_ready(page) -> None:
    page.wait_for_selector("#chart[data-ready='1'] .u-over")


def drag(page, start: float, end: float) -> None:
    """Press the mouse at a fraction of the plot's width, move, release (as a person drags)."""
    box = page.locator("#chart .u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (start + end) / 2, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
    page.mouse.up()


def test_drag_across_the_chart_sets_the_dates_and_double_click_resets(page, base_url, archive):
    page.goto(base_url + "/?q=facebook&relevance=all")
    chart_ready(page)
    assert page.inner_text("#total") == "4"          # fb-banks (1 May), its wire copy (2 May), fb-pl (10 June), hostile
    page.hover("#chart .u-over", position={"x": 5, "y": 100})
    assert not page.locator(".chart-tooltip").is_hidden()
    assert "week of 2024-04-15" in page.inner_text(".chart-tooltip")          # the first week with a match
    assert "facebook: 1 article" in page.inner_text(".chart-tooltip")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#attention").screenshot(path=str(SHOTS / "chart-tooltip.png"))
    shot(page, "chart")
    weeks = httpx.get(base_url + "/api/histogram", params={"q": "facebook", "relevance": "all"}).json()["buckets"]
    assert [w["start"][:10] for w in weeks][:2] == ["2024-04-15", "2024-04-22"] and len(weeks) == 9
    # drag from the second week to the end: the weeks of May and June, from/to come into the URL
    with page.expect_navigation():
        drag(page, 1.5 / len(weeks), 0.99)
    assert "from=2024-04-22" in page.url and "to=2024-06-16" in page.url and "q=facebook" in page.url
    assert (page.input_value("#date-from"), page.input_value("#date-to")) == ("2024-04-22", "2024-06-16")
    chart_ready(page)
    api = httpx.get(base_url + "/api/search", params={"q": "facebook", "relevance": "all", "from": "2024-04-22",
                                                      "to": "2024-06-16"}).json()
    assert page.inner_text("#total") == str(api["total"]) == "3"     # the hostile page of 15 April is left out
    assert "week of 2024-04-22 to week of 2024-06-10" in page.inner_text("#chart-title")   # the chart spans the period
    shot(page, "chart-dragged")
    # double-click: every date again
    with page.expect_navigation():
        page.dblclick("#chart .u-over")
    assert "from=" not in page.url and "to=" not in page.url and "q=facebook" in page.url
    assert page.inner_text("#total") == "4"


def test_compare_two_queries_and_download_the_series(page, base_url, archive, tmp_path):
    page.goto(base_url + "/?q=citigroup&relevance=all")
    chart_ready(page)
    page.fill("#compare-q", "amazon")
    with page.expect_navigation():
        page.click("#compare-form button[type=submit]")
    assert "compare=amazon" in page.url and "q=citigroup" in page.url
    chart_ready(page)
    legend = page.locator("#chart-legend li")
    assert legend.count() == 2
    assert "citigroup" in legend.nth(0).inner_text() and "amazon" in legend.nth(1).inner_text()
    colours = [page.eval_on_selector(f"#chart-legend li:nth-child({i}) .swatch",
                                     "e => getComputedStyle(e).backgroundColor") for i in (1, 2)]
    assert colours[0] != colours[1]
    # each query is a line of its own colour on the chart (uPlot's series)
    assert page.evaluate("document.querySelectorAll('#chart canvas').length") == 1
    # the share view: the same URL with chart=share, the axis in per cent
    page.check('input[name="chart-mode"][value="share"]')
    page.wait_for_function("location.search.includes('chart=share')")
    assert page.get_attribute("#chart", "data-mode") == "share"
    shot(page, "chart-compare-share")

    # the series as CSV: the same numbers as the API
    with page.expect_download() as dl:
        page.click("#chart-csv")
    path = tmp_path / "series.csv"
    dl.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    api = httpx.get(base_url + "/api/histogram", params=[("q", "citigroup"), ("compare", "amazon"),
                                                         ("relevance", "all")]).json()
    assert rows[0][3:] == ["citigroup: articles", "citigroup: share", "amazon: articles", "amazon: share"]
    assert [int(r[3]) for r in rows[1:]] == api["series"][0]["counts"]
    assert [int(r[5]) for r in rows[1:]] == api["series"][1]["counts"]
    assert sum(int(r[5]) for r in rows[1:]) == 1                       # amazon-wf, 20 Nov 2023

    # the chart as a PNG image
    with page.expect_download() as dl:
        page.click("#chart-png")
    png = tmp_path / "chart.png"
    dl.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000

    # the compared query can be taken off again
    with page.expect_navigation():
        page.click("#chart-legend a.remove")
    assert "compare=" not in page.url and page.locator("#chart-legend li").count() == 1


def test_export_chosen_columns_with_the_full_text(page, base_url, archive, tmp_path):
    page.goto(base_url + "/?q=citigroup&relevance=all")
    page.click("#column-picker summary")
    for box in page.locator('#column-list input[name="fields"]').all():
        box.uncheck()
    for name in ("title", "text", "evidence"):
        page.check(f'#column-list input[value="{name}"]')
    # "up" moves a column earlier: evidence before text
    page.click('#column-list li:has(input[value="evidence"]) button.move-up')
    with page.expect_download() as dl:
        page.click("#columns-csv")
    path = tmp_path / "texts.csv"
    dl.value.save_as(path)
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    order = [f for f in json.loads(page.evaluate(
        "JSON.stringify([...document.querySelectorAll('#column-list input:checked')].map(e => e.value))"))]
    assert list(rows[0].keys()) == order and set(order) == {"title", "text", "evidence"}
    by_title = {a.title: a for a in sa.ARTICLES}
    fb = next(r for r in rows if r["title"] == sa.BY_KEY["fb-banks"].title)
    assert fb["text"] == sa.BY_KEY["fb-banks"].text                    # the full text, line breaks and all
    assert fb["evidence"] == sa.evidence_of(sa.BY_KEY["fb-banks"])
    assert len(rows) == 4 and all(r["text"] == by_title[r["title"]].text for r in rows if r["title"] in by_title)

    # the same through the URL, in the order it names
    r = httpx.get(base_url + "/export.csv", params={"q": "citigroup", "relevance": "all",
                                                    "fields": "title,text,evidence"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == ["title", "text", "evidence"] and len(rows) == 4


def test_paste_a_url_and_find_its_article(page, base_url, archive):
    page.goto(base_url + "/?q=bank")
    page.click("#total")                                               # reading the results, not in the box
    assert page.evaluate("document.activeElement.id") != "q"
    page.keyboard.press("/")                                           # "/" focuses the search box, text selected
    assert page.evaluate("document.activeElement.id") == "q" and page.input_value("#q") == "bank"
    page.keyboard.insert_text("https://news-en.test/fb-banks/")        # as pasted: other scheme, trailing slash
    assert page.input_value("#q") == "https://news-en.test/fb-banks/"
    page.keyboard.press("Enter")
    page.wait_for_selector("#total")
    assert page.inner_text("#total") == "1"
    assert page.locator(".hit h3 a").get_attribute("href") == f"/articles/{archive['fb-banks']}"
    shot(page, "pasted-url")
    # a near miss of a field name says what was meant
    page.fill("#q", "titel:chase")
    page.press("#q", "Enter")
    page.wait_for_selector("#query-error")
    assert "did you mean title:?" in page.inner_text("#query-error")
    # * is everything
    page.fill("#q", "*")
    page.select_option("#relevance", "all")
    page.press("#q", "Enter")
    page.wait_for_selector("#total")
    assert page.inner_text("#total") == str(len(sa.ARTICLES))


def _axe(page) -> list[dict]:
    if not AXE.exists():
        pytest.skip(f"axe-core is not vendored at {AXE} (scripts/vendor-js.sh)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ["violations"]});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""")
    return result


@pytest.mark.parametrize("path, ready", [
    ("/?q=facebook&relevance=all&compare=citigroup", "#chart[data-ready='1']"),
    ("/articles/{fb-banks}", "#article-title"),
    ("/entities/jpm", "#chart[data-ready='1']"),
    ("/entities", "#entity-prefix"),
    ("/sources", "table.sources"),
    ("/?q=(broken", "#query-error"),
])
def test_no_serious_accessibility_violation(page, base_url, archive, path, ready):
    page.goto(base_url + path.replace("{fb-banks}", archive["fb-banks"]))
    page.wait_for_selector(ready)
    page.click("details.columns summary") if page.locator("details.columns summary").count() else None
    violations = _axe(page)
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], json.dumps(serious, indent=1)


def test_print_layout_shows_the_content_without_the_controls(page, base_url, archive):
    page.goto(base_url + "/?q=facebook&relevance=all")
    chart_ready(page)
    page.emulate_media(media="print")
    for hidden in ("form.search", ".facets", ".exports", "form.compare", ".chart-mode", "header.top nav"):
        assert page.locator(hidden).first.is_hidden(), hidden
    assert page.locator(".hit").first.is_visible() and page.locator(".chart-table table").is_visible()
    shot(page, "search-print")
    page.goto(base_url + f"/articles/{archive['fb-banks']}")
    assert page.locator("#article-text").is_visible() and page.locator("header.top nav").is_hidden()


def test_the_pages_load_nothing_from_elsewhere(page, base_url, archive):
    """Offline by construction: every script, style and image comes from the app itself."""
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    for path in ("/?q=facebook&compare=google", "/entities/jpm", f"/articles/{archive['fb-banks']}", "/sources"):
        page.goto(base_url + path)
        page.wait_for_load_state("networkidle")
    assert any(u.endswith("/static/vendor/uPlot.iife.min.js") for u in requested)
    assert [u for u in requested if not u.startswith(base_url + "/")] == []
