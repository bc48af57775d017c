"""The web UI in a real browser: Playwright drives Debian's Chromium against the real app and node.

Screenshots of the main pages go to ``artifacts/screenshots/`` (not committed).
"""

from __future__ import annotations

import csv
import io
import socket
import threading
import time
from pathlib import Path

import feedparser
import httpx
import pytest

import search_archive as sa
from indexer import store

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def base_url(settings, archive):
    import uvicorn

    from search_ui.app import create_app
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs
    yield pg
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_search_filter_open_and_export(page, base_url, archive, tmp_path):
    page.goto(base_url + "/")
    page.fill("#q", "citigroup")
    page.press("#q", "Enter")
    page.wait_for_selector("#total")
    assert page.inner_text("#total") == "4"  # relevant only, by default
    assert page.locator(".hit").count() == 3  # two copies of one story shown as one hit
    shot(page, "search")
    # a facet link adds a filter too (and a second click removes it)
    page.click('[data-facet="entity"] a[data-value="citi"]')
    page.wait_for_url("**entity=citi**")
    page.click('[data-facet="entity"] a[data-value="citi"]')
    page.wait_for_function("!location.search.includes('entity=citi')")

    # an entity filter from the facets, then a date range through the form
    page.fill("#entity-filter", "jpm")  # the type-ahead adds the entity to the current search
    page.wait_for_selector("#typeahead-results a")
    page.click("#typeahead-results a")
    page.wait_for_url("**entity=jpm**")
    assert page.locator('[data-facet="entity"] a.selected[data-value="jpm"]').count() == 1
    assert page.inner_text("#total") == "2"
    page.fill("#date-from", "2024-05-01")
    page.fill("#date-to", "2024-05-01")
    page.click("form.search button[type=submit]")
    page.wait_for_url("**to=2024-05-01**")
    assert page.inner_text("#total") == "1"
    assert "q=citigroup" in page.url and "entity=jpm" in page.url and "from=2024-05-01" in page.url
    shot(page, "search-filtered")

    # export CSV: every match of the same query and filters
    with page.expect_download() as dl:
        page.click("#export-csv")
    path = tmp_path / "export.csv"
    dl.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    api = httpx.get(base_url + "/api/search", params={"q": "citigroup", "entity": "jpm", "from": "2024-05-01",
                                                      "to": "2024-05-01"}).json()
    assert len(rows) == api["total"] == 1
    assert rows[0]["url"] == sa.BY_KEY["fb-banks"].url

    # the Atom feed of this search parses
    feed_url = page.get_attribute("#feed", "href")
    feed = feedparser.parse(httpx.get(base_url + feed_url).content)
    assert not feed.bozo and [e.link for e in feed.entries] == [sa.BY_KEY["fb-banks"].url]

    # open the article
    page.click(".hit h3 a")
    page.wait_for_selector("#article-title")
    assert page.inner_text("#article-title") == sa.BY_KEY["fb-banks"].title
    assert page.locator("mark.evidence").count() >= 1
    shot(page, "article")


def test_review_the_possibly_relevant_articles(page, base_url, archive, tmp_path):
    page.goto(base_url + "/")
    page.wait_for_selector("#total")
    assert page.inner_text("#total") == "7"  # relevant to the story, by default
    facet = page.locator('[data-facet="relevance"]')
    assert [facet.locator(f'[data-value="{b}"]').inner_text().lstrip("✓ ") for b in ("relevant", "possible", "not")] \
        == ["relevant to the story", "possibly relevant — review", "not about the story"]
    assert facet.locator("li .count").all_inner_texts() == ["7", "2", "2"]
    assert "0.30" in facet.locator('[data-value="possible"]').get_attribute("title")
    shot(page, "relevance-facet")

    # the summary points to the borderline articles; each shows the sentences behind its score
    page.click("#review-possible")
    page.wait_for_url("**relevance=possible**")
    assert page.inner_text("#total") == "2"
    assert page.input_value("#relevance") == "possible"
    assert page.locator(".hit").count() == 2 and page.locator(".hit .badge.possible").count() == 2
    evidence = page.locator(".hit .hit-evidence li").all_inner_texts()
    assert sorted(evidence) == sorted(sa.evidence_of(sa.BY_KEY[k]) for k in sa.POSSIBLE)
    assert facet.locator("li .count").all_inner_texts() == ["7", "2", "2"]  # the same counts, the other band chosen
    shot(page, "search-possible")

    # the export of the page holds the same articles, each with its band and evidence
    with page.expect_download() as dl:
        page.click("#export-csv")
    path = tmp_path / "possible.csv"
    dl.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert sorted(r["url"] for r in rows) == sorted(sa.BY_KEY[k].url for k in sa.POSSIBLE)
    assert {r["relevance_band"] for r in rows} == {"possible"} and all(r["evidence"] for r in rows)

    # an article of the band says why it may be relevant, its evidence marked in the text
    page.click(f'.hit h3 a[href="/articles/{archive["apple-savings"]}"]')
    page.wait_for_selector("#article-title")
    assert "possibly relevant — review" in page.inner_text("#relevance-band")
    assert page.locator("mark.evidence").all_inner_texts() == [sa.evidence_of(sa.BY_KEY["apple-savings"])]
    shot(page, "article-possible")
    page.go_back()
    page.wait_for_selector("#total")

    # the third choice of the form: every article
    page.select_option("#relevance", "all")
    page.click("form.search button[type=submit]")
    page.wait_for_url("**relevance=all**")
    assert page.inner_text("#total") == str(len(sa.ARTICLES))
    assert page.locator(".hit .hit-evidence").count() == 2   # only the borderline hits carry it

    # a search with no relevant match offers its borderline matches
    page.goto(base_url + "/")
    page.fill("#q", "lumo")
    page.press("#q", "Enter")
    page.wait_for_selector("#total")
    assert page.inner_text("#total") == "0"
    page.click("#review-possible")
    page.wait_for_url("**relevance=possible**")
    assert page.inner_text("#total") == "1" and "q=lumo" in page.url


def test_wider_export_matches_api_total(page, base_url):
    page.goto(base_url + "/?relevant=0")
    with page.expect_download() as dl:
        page.click("#export-csv")
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    total = httpx.get(base_url + "/api/search", params={"relevant": "0"}).json()["total"]
    assert len(list(csv.DictReader(io.StringIO(text)))) == total == len(sa.ARTICLES)


def test_malformed_query_shows_message(page, base_url):
    page.goto(base_url + "/")
    page.fill("#q", "(facebook OR")
    page.press("#q", "Enter")
    page.wait_for_selector("#query-error")
    assert "needs a word after it" in page.inner_text("#query-error")
    shot(page, "query-error")


def test_hostile_article_is_inert(page, base_url, archive):
    for url in (f"/articles/{archive['hostile']}", "/?q=hostile", "/feed.atom?q=hostile"):
        page.goto(base_url + url)
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)
    page.goto(base_url + f"/articles/{archive['hostile']}")
    page.wait_for_load_state("load")
    page.hover("#article-text")
    page.wait_for_timeout(300)
    assert page.dialogs == []
    # only the app's own script; no element came from the crawled text
    assert page.evaluate("[...document.scripts].map(s => s.src.split('/').pop())") == ["app.js"]
    assert page.locator("#article-text img, #article-text iframe, #article-text b, #article-title script").count() == 0
    assert "<script>alert(2)</script>" in page.inner_text("#article-text")
    shot(page, "hostile-article")
    page.goto(base_url + "/?q=hostile")
    assert page.locator(".hit img, .hit iframe, .hit script").count() == 0 and page.dialogs == []


def test_entity_type_ahead_and_pages(page, base_url):
    page.goto(base_url + "/entities")
    page.fill("#entity-prefix", "jpm")
    page.wait_for_selector("#typeahead-results a")
    assert "JPMorgan Chase" in page.inner_text("#typeahead-results")
    shot(page, "entities")
    page.click("#typeahead-results a")
    page.wait_for_url("**/entities/jpm")
    assert "JPMorgan Chase" in page.inner_text("h1")
    shot(page, "entity")
    page.goto(base_url + "/sources")
    assert "news-en" in page.inner_text("table.sources")
    shot(page, "sources")


def test_crawled_hostile_demo_page_and_its_raw_copy_are_inert(page, base_url, es, settings):
    """The demo's hostile article, fetched over HTTP and extracted like the crawler does, then shown."""
    import urllib.request

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from crawler.extract import extract_article
    from demo_sites import DemoSites
    from indexer.archive import Archive
    from indexer.documents import enriched_document

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = DemoSites(port=port).start()
    try:
        hostile = next(a for site in demo.sites for a in site.articles if a.hostile)
        with urllib.request.urlopen(hostile.url, timeout=10) as resp:
            raw_html = resp.read()
            content_type = resp.headers.get("Content-Type", "text/html")
    finally:
        demo.stop()
    article = extract_article(raw_html, hostile.url, "night-wire", "en")
    assert hasattr(article, "text") and "<script>" in article.text  # the attack is in the text itself
    raw_path = settings.data_dir / "raw" / "browser-test.warc.gz"
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    with open(raw_path, "ab") as fh:
        offset = fh.tell()
        writer = WARCWriter(fh, gzip=True)
        writer.write_record(writer.create_warc_record(
            hostile.url, "response", payload=io.BytesIO(raw_html),
            http_headers=StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")))
    article.raw_warc, article.raw_offset = "raw/browser-test.warc.gz", offset
    doc = enriched_document(article, settings)
    store.write_documents(es, settings, [doc], refresh="wait_for")
    try:
        page.goto(base_url + f"/articles/{doc['id']}")
        page.wait_for_selector("#article-text")
        page.hover("#article-text")
        assert "<script>alert('x')</script>" in page.inner_text("#article-text")
        assert page.locator("#article-text *:not(p):not(mark)").count() == 0
        shot(page, "crawled-hostile-article")
        page.goto(base_url + f"/?q=smuggle+scripts&relevant=0")
        assert page.locator(".hit").count() >= 1
        assert page.locator(".hit img, .hit iframe, .hit script, .hit svg").count() == 0
        # the raw page as crawled: its real scripts are blocked by the sandbox
        page.goto(base_url + f"/articles/{doc['id']}/raw")
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)
        assert page.dialogs == []
        assert page.evaluate("typeof window.nightWire") == "undefined"  # the page's own script did not run
        shot(page, "crawled-hostile-raw")
    finally:
        es.delete(index=settings.articles_alias, id=doc["id"], refresh="wait_for")
