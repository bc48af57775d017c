"""The offline demo news sites, as a crawler sees them over real HTTP.

These tests specify what ``seeds/demo`` and the ``demo_sites`` package promise to the rest of the
project: every article answers with its title and metadata, feeds and sitemaps list every article,
edition 2 adds exactly 5 articles and edits exactly one, robots.txt keeps crawlers out of
``/private/``, and each trouble case of the Night Wire site answers the way it should. The
benchmark's site of real pages (``demo_sites.bench_site``) is served by the same HTTP code.
"""

from __future__ import annotations

import difflib
import html
import http.client
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest

from demo_sites import (
    EDITION2_NEW_ARTICLES,
    EDITION2_REVISED_ARTICLES,
    EDITION2_SITE,
    DemoSites,
    expected_articles,
    load_sites,
    default_demo_dir,
    sources_for_port,
    write_sources_file,
)
from demo_sites.bench_site import LocalSite, build_layout

REPO = Path(__file__).resolve().parents[1]

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_demo(**kwargs) -> DemoSites:
    last: OSError | None = None
    for _ in range(5):
        try:
            return DemoSites(port=free_port(), **kwargs).start()
        except OSError as exc:  # the port was taken on another loopback address meanwhile
            last = exc
    raise last  # type: ignore[misc]


@pytest.fixture(scope="module")
def demo():
    sites = start_demo()
    yield sites
    sites.stop()


@pytest.fixture()
def edition2(demo):
    demo.set_edition(2)
    yield demo
    demo.set_edition(1)


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    """One GET without following redirects."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def get_text(url: str) -> str:
    status, _, body = fetch(url)
    assert status == 200, f"{url} answered {status}"
    return body.decode("utf-8")


def sitemap_urls(url: str) -> dict[str, ET.Element]:
    """Every <url> of a sitemap, following a sitemap index."""
    root = ET.fromstring(get_text(url))
    if root.tag == f"{SM}sitemapindex":
        found: dict[str, ET.Element] = {}
        for loc in root.iter(f"{SM}loc"):
            found.update(sitemap_urls(loc.text))
        return found
    return {u.findtext(f"{SM}loc"): u for u in root.iter(f"{SM}url")}


# --------------------------------------------------------------------------- the content
def test_the_demo_holds_55_to_70_articles_in_english_and_polish():
    articles = expected_articles(edition=2)
    assert 55 <= len(articles) <= 70
    langs = Counter(a.lang for a in articles)
    assert set(langs) == {"en", "pl"} and langs["pl"] >= 15
    assert len({a.url for a in articles}) == len(articles)
    sites = load_sites()
    assert len([s for s in sites if not s.trouble]) >= 3
    assert {s.host for s in sites} == {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}


def test_every_article_is_long_enough_to_extract_and_dated_between_2018_and_2026():
    for a in expected_articles(edition=2):
        for edition in (1, 2):
            assert 150 <= a.word_count(edition) <= 600, f"{a.url} has {a.word_count(edition)} words"
        assert a.published.tzinfo is not None and a.published.utcoffset().total_seconds() == 0
        assert datetime(2018, 1, 1, tzinfo=timezone.utc) <= a.published < datetime(2027, 1, 1, tzinfo=timezone.utc)
    years = {a.published.year for a in expected_articles()}
    assert years >= set(range(2018, 2027))


def test_the_corpus_covers_the_story_with_inflected_and_misspelled_names():
    text = "\n".join(a.text(2) for a in expected_articles(edition=2))
    for needle in ["Facebooka", "Facebookowi", "Zuckerberga", "Citigroupu", "Citigroupem", "bankom Wells Fargo",
                   "banków", "danych klientów", "transakcji kartowych", "Citygroup", "Facebook's",
                   "JPMorgan Chase", "U.S. Bancorp", "Mastercard", "Goldman Sachs", "Apple Card"]:
        assert needle in text, needle
    # Distractors for the topic: the fruit, the verb, other banking news.
    assert re.search(r"\bapples\b", text) and re.search(r"\bchase (?:down|the|a|them)\b", text)


def test_one_wire_story_is_syndicated_on_two_sites_with_small_edits():
    articles = expected_articles()
    pairs = []
    for i, a in enumerate(articles):
        for b in articles[i + 1:]:
            if a.site != b.site and a.lang == b.lang:
                ratio = difflib.SequenceMatcher(None, a.text(), b.text()).ratio()
                if ratio > 0.8:
                    pairs.append((a.url, b.url, ratio))
    assert len(pairs) == 1, pairs
    assert pairs[0][2] < 1.0


def _copy_of_one_site(tmp_path: Path) -> Path:
    """A demo directory holding only The Baltic Ledger, for editing its content in a test."""
    source = next(d for d in (default_demo_dir() / "sites").iterdir() if d.name.endswith(EDITION2_SITE))
    shutil.copytree(source, tmp_path / "sites" / source.name)
    return tmp_path / "sites" / source.name


def test_a_front_matter_date_without_a_timezone_is_refused_naming_the_file(tmp_path):
    site_dir = _copy_of_one_site(tmp_path)
    article = sorted((site_dir / "articles").glob("*.md"))[0]
    text = article.read_text(encoding="utf-8")
    article.write_text(re.sub(r'^date: "([^"+Z]+)(?:\+00:00|Z)"', r'date: "\1"', text, count=1, flags=re.M),
                       encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{article.name}: date .* has no timezone"):
        load_sites(tmp_path)
    article.write_text(text.replace('+00:00"', '+02:00"', 1), encoding="utf-8")
    moved = next(a for a in load_sites(tmp_path)[0].articles if a.slug == article.stem)
    original = next(a for a in load_sites()[0].articles if a.slug == article.stem)
    assert moved.published.utcoffset().total_seconds() == 0 and (original.published - moved.published).seconds == 7200


def test_an_unknown_trouble_kind_is_refused_when_the_site_is_loaded(tmp_path):
    site_dir = _copy_of_one_site(tmp_path)
    with (site_dir / "site.yaml").open("a", encoding="utf-8") as fh:
        fh.write("trouble_cases:\n  - {kind: teapot, path: /418/, title: Tea, expected: nothing}\n")
    with pytest.raises(ValueError, match=r"site.yaml: trouble case /418/ has unknown kind 'teapot'; known: not_found"):
        load_sites(tmp_path)


# --------------------------------------------------------------------------- pages
def test_every_article_answers_200_with_its_title_and_metadata(demo):
    for a in demo.expected_articles():
        page = get_text(a.url)
        assert f'<link rel="canonical" href="{a.url}">' in page
        assert f'<meta property="og:url" content="{a.url}">' in page
        assert f'<html lang="{a.lang}">' in page
        assert f'<meta property="article:published_time" content="{a.published.isoformat().replace("+00:00", "Z")}">' in page
        assert "<time datetime=" in page and '<meta name="author"' in page
        assert f'<h1 class="headline">{html.escape(a.title)}</h1>' in page
        assert "cookie" in page and "site-footer" in page and 'class="related"' in page


def test_trafilatura_extracts_each_article_without_the_boilerplate(demo):
    import trafilatura

    for a in demo.expected_articles():
        doc = trafilatura.bare_extraction(get_text(a.url), url=a.url, with_metadata=True)
        assert (doc.title, doc.date, doc.author) == (a.title, f"{a.published:%Y-%m-%d}", a.author), a.url
        assert abs(len(doc.text.split()) - a.word_count()) <= 25, a.url
        assert "Morning briefing" not in doc.text and "Poranny przegląd" not in doc.text
        assert "All rights reserved" not in doc.text and "Wszelkie prawa" not in doc.text


def test_section_pages_are_paginated_and_together_link_every_article(demo):
    for site in demo.sites:
        linked = set()
        for section in site.sections:
            url = site.url(f"/{section.slug}/")
            while url:
                page = get_text(url)
                linked.update(site.url(p) for p in re.findall(r'<li class="teaser"><a href="([^"?]+)', page))
                nxt = re.search(r'<a rel="next" href="([^"]+)"', page)
                url = site.url(nxt.group(1)) if nxt else None
        assert {a.url for a in site.visible_articles(1)} <= linked, site.name
    assert "/banking/page/2/" in get_text(demo.base_url(EDITION2_SITE) + "banking/")


def test_home_pages_carry_tracking_links_and_a_slashless_variant(demo):
    for site in demo.sites:
        home = get_text(site.base_url)
        oldest = site.visible_articles(1)[-1]
        assert f'href="{oldest.path.rstrip("/")}"' in home
        status, _, body = fetch(site.url(oldest.path.rstrip("/")))
        assert status == 200 and f'<link rel="canonical" href="{oldest.url}">' in body.decode()
    homes = "".join(get_text(s.base_url) for s in demo.sites)
    assert "utm_source=newsletter&amp;utm_medium=email" in homes and "fbclid=" in homes
    tracked = re.search(r'href="(/\d{4}/\d{2}/[^"?]+/\?utm_[^"]+)"', homes).group(1).replace("&amp;", "&")
    page = get_text(demo.sites[0].url(tracked))
    assert '<link rel="canonical"' in page and "utm_" not in re.search(r'rel="canonical" href="([^"]+)"', page).group(1)


def test_article_pages_answer_conditional_gets_with_304_until_they_change(demo, edition2):
    edited = next(a for a in demo.expected_articles() if a.revised)
    parts = urlsplit(edited.url)

    def get_since(since: str) -> int:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request("GET", parts.path, headers={"If-Modified-Since": since})
        status = conn.getresponse().status
        conn.close()
        return status

    assert get_since("Wed, 25 Nov 2026 00:00:00 GMT") == 200   # revised on 26 November
    assert get_since("Fri, 27 Nov 2026 00:00:00 GMT") == 304
    assert get_since("not a date") == 200


# --------------------------------------------------------------------------- feeds and sitemaps
def test_feeds_parse_and_list_every_article(demo):
    formats = set()
    for site in demo.sites:
        feed = feedparser.parse(get_text(site.url("/feed.xml")))
        assert not feed.bozo, (site.name, feed.get("bozo_exception"))
        formats.add(feed.version[:3])
        links = {e.link for e in feed.entries}
        assert {a.url for a in site.visible_articles(1)} <= links, site.name
        for entry in feed.entries:
            assert entry.get("published_parsed") or entry.get("updated_parsed")
    assert formats == {"rss", "ato"}  # RSS 2.0 on some sites, Atom on another


def test_sitemaps_list_every_article_and_one_is_a_news_sitemap_index(demo):
    for site in demo.sites:
        urls = sitemap_urls(site.sitemap_url)
        assert {a.url for a in site.visible_articles(1)} <= set(urls), site.name
        for a in site.visible_articles(1):
            assert urls[a.url].findtext(f"{SM}lastmod")
    news_site = next(s for s in demo.sites if s.sitemap_style == "news-index")
    index = ET.fromstring(get_text(news_site.sitemap_url))
    assert index.tag == f"{SM}sitemapindex"
    news = ET.fromstring(get_text(news_site.url("/news-sitemap.xml")))
    dates = [d.text for d in news.iter(f"{NEWS}publication_date")]
    assert len(dates) == len(news_site.visible_articles(1))


def test_robots_txt_disallows_private_pages_that_exist_and_are_linked(demo):
    delays = []
    for site in demo.sites:
        robots = get_text(site.url("/robots.txt"))
        assert "Disallow: /private/" in robots and f"Sitemap: {site.sitemap_url}" in robots
        delays += re.findall(r"Crawl-delay: (\S+)", robots)
        for page in site.private_pages:
            assert get_text(page.url).count("<article") == 1
            assert f'href="{page.path}"' in get_text(site.base_url)
    assert delays == ["1"]
    assert sum(len(s.private_pages) for s in demo.sites) >= 1


# --------------------------------------------------------------------------- editions
def test_edition_2_adds_exactly_five_articles_on_one_site_and_edits_exactly_one(demo, edition2):
    one, two = expected_articles(1, sites=demo.sites), expected_articles(2, sites=demo.sites)
    new = [a for a in two if a not in one]
    assert len(new) == EDITION2_NEW_ARTICLES == 5
    assert {a.site for a in new} == {EDITION2_SITE}
    changed = [a for a in one if a.text(1) != a.text(2)]
    assert len(changed) == EDITION2_REVISED_ARTICLES == 1
    edited = changed[0]

    site = demo.site(EDITION2_SITE)
    entries = {e.link: e for e in feedparser.parse(get_text(site.url("/feed.xml"))).entries}
    feed_links = set(entries)
    sitemap = sitemap_urls(site.sitemap_url)
    for a in new:
        assert a.title in get_text(a.url)
        assert a.url in feed_links and a.url in sitemap
    page = get_text(edited.url)
    assert edited.paragraphs(2)[0][:60] in page and edited.paragraphs(1)[0][:60] not in page
    revised_at = edited.revised_at.isoformat().replace("+00:00", "Z")
    assert sitemap[edited.url].findtext(f"{SM}lastmod") == revised_at
    assert entries[edited.url].updated == revised_at  # feeds say when an entry changed, too

    demo.set_edition(1)
    assert all(fetch(a.url)[0] == 404 for a in new)
    assert edited.paragraphs(1)[0][:60] in get_text(edited.url)


# --------------------------------------------------------------------------- the trouble site
def test_each_trouble_case_answers_what_it_should(demo):
    site = next(s for s in demo.sites if s.trouble)
    kinds = {c.kind: c for c in site.trouble_cases}
    assert set(kinds) >= {"not_found", "server_error", "redirect_loop", "binary", "empty", "oversized"}

    assert fetch(site.url(kinds["not_found"].path))[0] == 404
    assert fetch(site.url(kinds["server_error"].path))[0] == 500
    a, b = [c for c in site.trouble_cases if c.kind == "redirect_loop"]
    status, headers, _ = fetch(site.url(a.path))
    assert status == 302 and headers["location"] == site.url(b.path)
    status, headers, _ = fetch(site.url(b.path))
    assert status == 302 and headers["location"] == site.url(a.path)
    status, headers, body = fetch(site.url(kinds["binary"].path))
    assert status == 200 and headers["content-type"] == "application/pdf" and body.startswith(b"%PDF")
    status, _, body = fetch(site.url(kinds["empty"].path))
    assert status == 200 and re.search(rb"<body>\s*</body>", body)
    status, headers, body = fetch(site.url(kinds["oversized"].path))
    assert status == 200 and int(headers["content-length"]) == len(body) > 6 * 1024 * 1024

    # The feed and the sitemap link every trouble case (except the slow one) next to the good articles.
    feed = feedparser.parse(get_text(site.url("/feed.xml")))
    listed = {e.link for e in feed.entries}
    assert {site.url(c.path) for c in site.trouble_cases if c.kind != "slow"} <= listed
    assert {a.url for a in site.visible_articles(1)} <= listed and len(site.visible_articles(1)) == 4
    broken = feedparser.parse(get_text(site.url("/broken-feed.xml")))
    assert broken.bozo and site.url("/broken-feed.xml") in site.feed_urls


def test_the_slow_page_answers_only_after_its_delay():
    demo = start_demo(slow_seconds=0.5)
    try:
        site = next(s for s in demo.sites if s.trouble)
        slow = next(c for c in site.trouble_cases if c.kind == "slow")
        parts = urlsplit(site.url(slow.path))
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=0.2)
        conn.request("GET", parts.path)
        with pytest.raises(TimeoutError):
            conn.getresponse()
        conn.close()
    finally:
        demo.stop()


def test_article_delay_slows_article_pages_and_nothing_else():
    demo = start_demo(article_delay=0.6)
    try:
        site = demo.sites[0]
        started = time.monotonic()
        assert fetch(site.url("/robots.txt"))[0] == 200 and fetch(site.base_url)[0] == 200
        assert time.monotonic() - started < 0.6
        started = time.monotonic()
        assert fetch(site.visible_articles(1)[0].url)[0] == 200
        assert time.monotonic() - started >= 0.6
    finally:
        demo.stop()


def test_hostile_text_is_escaped_article_text_and_real_scripts_sit_in_the_markup(demo):
    hostile = next(a for s in demo.sites for a in s.articles if a.hostile)
    assert "<script>alert('x')</script>" in hostile.text() and "<img src=x onerror=alert(1)>" in hostile.text()
    page = get_text(hostile.url)
    body = page.split('<div class="story-body">')[1].split("</div>")[0]
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body
    assert "<script" not in body and "<img" not in body and "javascript:alert" in body
    assert page.count("<script>") >= 2 and 'onerror="' in page and 'href="javascript:' in page


# --------------------------------------------------------------------------- server API
def test_the_request_log_records_every_request_in_memory_and_as_json_lines(tmp_path):
    log_file = tmp_path / "requests.jsonl"
    demo = start_demo(request_log=log_file)
    try:
        site = demo.sites[0]
        fetch(site.url("/robots.txt"))
        fetch(site.url("/no/such/page/"))
        article = site.visible_articles(1)[0]
        fetch(article.url + "?utm_source=x")
        assert demo.requests == [(site.host, "/robots.txt", 200), (site.host, "/no/such/page/", 404),
                                 (site.host, article.path + "?utm_source=x", 200)]
        assert demo.article_requests() == demo.requests[2:]
        lines = [json.loads(line) for line in log_file.read_text().splitlines()]
        assert [(r["host"], r["path"], r["status"]) for r in lines] == demo.requests
        demo.clear_requests()
        assert demo.requests == []
    finally:
        demo.stop()


def test_two_demo_webs_run_side_by_side_on_different_ports(demo):
    other = start_demo(edition=2)
    try:
        assert other.port != demo.port
        new = [a for a in other.expected_articles() if a.edition == 2]
        assert fetch(new[0].url)[0] == 200
        assert fetch(new[0].url.replace(f":{other.port}/", f":{demo.port}/"))[0] == 404
    finally:
        other.stop()


def test_sources_yaml_follows_the_port_and_names_a_dead_source(demo, tmp_path):
    sources = sources_for_port(demo.port)
    names = [s["name"] for s in sources]
    assert len(names) == len(set(names)) and set(s.name for s in demo.sites) < set(names)
    search = [s for s in sources if s.get("engine")]     # the demo's news-search source: its engine on this port
    assert [s["endpoint"] for s in search] == [f"http://127.0.0.20:{demo.port}/"]
    sources = [s for s in sources if not s.get("engine")]
    for src in sources:
        for url in [src["homepage"], *src["feeds"], *src["sitemaps"], *src["sections"]]:
            assert f":{demo.port}/" in url
        for pattern in src["article_patterns"]:
            re.compile(pattern)
    for site in demo.sites:
        src = next(s for s in sources if s["name"] == site.name)
        assert src["feeds"] == site.feed_urls and src["sitemaps"] == [site.sitemap_url]
        assert src["language"] == site.language and src["allowed_domains"] == [site.host]
        for a in site.articles:
            assert any(re.search(p, a.path) for p in src["article_patterns"])
    dead = [s for s in sources if s["name"] not in {site.name for site in demo.sites}]
    assert dead
    for src in dead:
        host = urlsplit(src["feeds"][0])
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host.hostname, host.port), timeout=2).close()
    written = write_sources_file(tmp_path / "sources.yaml", demo.port)
    assert f":{demo.port}/feed.xml" in written.read_text() and "defaults:" in written.read_text()


# --------------------------------------------------------------------------- by hand, and the benchmark's site
def test_python_m_demo_sites_writes_the_sources_for_its_port_and_serves_until_sigterm(tmp_path):
    port = free_port()
    sources = tmp_path / "sources.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "demo_sites", "--port", str(port), "--edition", "2",
                             "--write-sources", str(sources)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(5)]
        assert lines[0].strip() == f"sources: {sources}"
        assert lines[1].split()[:2] == [EDITION2_SITE, f"http://127.0.0.2:{port}/"] and "edition 2" in lines[1]
        new = next(a for a in expected_articles(2, port=port) if a.edition == 2)
        assert fetch(new.url)[0] == 200
        assert f"http://127.0.0.2:{port}/feed.xml" in sources.read_text(encoding="utf-8")
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_the_benchmark_site_serves_its_pages_feeds_sitemaps_and_sections_from_a_child_process(tmp_path):
    pages = [(f"<html><body><p>page {n} <b>&eacute;</b></p></body></html>".encode("latin-1"), f"Title {n} & co")
             for n in range(60)]
    layout = build_layout(pages, n_hosts=2)
    with LocalSite(layout):
        assert [urlsplit(u).hostname for u in layout.article_urls[:3]] == ["127.0.0.11", "127.0.0.12", "127.0.0.11"]
        for n in (0, 59):
            status, headers, body = fetch(layout.article_urls[n])
            assert status == 200 and body == pages[n][0] and headers["content-type"] == "text/html"
        host = layout.hosts[1]
        feed = feedparser.parse(get_text(f"{layout.base(host)}/feed.xml"))
        assert not feed.bozo and feed.entries[0].title == "Title 1 & co"
        assert {e.link for e in feed.entries} == {u for u in layout.article_urls if f"//{host}:" in u}
        assert set(sitemap_urls(f"{layout.base(host)}/sitemap.xml")) == {e.link for e in feed.entries}
        linked, url = [], f"{layout.base(host)}/section/1/"
        while url:
            page = get_text(url)
            linked += re.findall(r'<li><a href="(/a/\d+\.html)">', page)
            nxt = re.search(r'<a rel="next" href="([^"]+)"', page)
            url = layout.base(host) + nxt.group(1) if nxt else None
        assert len(linked) == 30 and "/section/2/" in get_text(f"{layout.base(host)}/")
        assert f"Sitemap: {layout.base(host)}/sitemap.xml" in get_text(f"{layout.base(host)}/robots.txt")
        assert fetch(f"{layout.base(host)}/a/0.html")[0] == 404          # page 0 lives on the other host
        written = layout.write_sources(tmp_path / "bench.yaml")
        assert written == ["bench-1", "bench-2"]
