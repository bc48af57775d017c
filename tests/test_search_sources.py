"""Search sources end to end: news-search feeds resolved to the publishers' articles, over real HTTP.

The search web of ``seeds/demo/search-web.yaml`` (``demo_sites.search_web``) on loopback: a
news-search engine answering in Bing News', Google News' and Google Alerts' formats, publishers
on other hosts (some with feeds of their own), a host answering 429 with ``Retry-After: 3``, one
answering 403 to every request, a consent wall, meta refreshes. Newer Google News ids go through
the ``googlenewsdecoder`` package to a stand-in of Google's two endpoints, reached through the
source's ``proxy`` setting (``demo_sites.google_standin``; TLS trusted through ``SSL_CERT_FILE``).
Each crawl is a real ``python -m crawler.crawl_process`` into the real index.

Specification:
* every item of a search source ends as an article, a known URL, a duplicate, or a counted
  reason, and ``articles = items - counted reasons`` exactly, per source;
* each article is stored once, under the publisher's domain and site name, with ``found_via``
  ``search:<source>``; a publisher's own source that meets it later adds its own way and owns it;
* the 429 host's pages are asked again after the wait and arrive; the 403 host is reported
  blocked once and asked no more; consent walls are counted and never indexed;
* a run after that fetches no article again and asks Google nothing again.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from crawler.canonical import canonicalize
from crawler.supervisor import settings_environment
from dealwatch.dates import parse_datetime
from demo_sites.google_standin import GoogleStandin
from demo_sites.loopback import RequestLog
from demo_sites.search_web import RETRY_AFTER, SearchWeb
from indexer import store
from indexer.client import make_client
from indexer.schema import article_id
from jobs_helpers import isolated_settings

REPO = Path(__file__).resolve().parents[1]
SEARCH = ["reach-bing", "reach-google", "reach-alerts"]
SITES = ["vistula-business", "lakeside-finance", "rynek-i-dane"]
PATTERN = r"^/\d{4}/\d{2}/[^/]+/?$"


def _sources(web: SearchWeb, proxy: str) -> list[dict]:
    vistula, lakeside, rynek = (web.publisher(n) for n in SITES)
    return [
        {"name": "reach-bing", "engine": "bing_news", "endpoint": web.engine_url, "lang": "en",
         "queries": ["platform bank customer data"]},
        {"name": "reach-google", "engine": "google_news", "endpoint": web.engine_url, "lang": "pl",
         "queries": ["banki dane klientów platformy"], "proxy": proxy, "timezone": "Europe/Warsaw"},
        {"name": "reach-alerts", "engine": "google_alerts", "language": "en",
         "feeds": [f"{web.engine_url}/alerts/feeds/07310042/platform-banks"]},
        {"name": "vistula-business", "language": "en", "feeds": [vistula.url("/feed.xml")],
         "article_patterns": [PATTERN]},
        {"name": "lakeside-finance", "language": "en", "feeds": [lakeside.url("/feed.xml")],
         "article_patterns": [PATTERN]},
        {"name": "rynek-i-dane", "language": "pl", "sitemaps": [rynek.url("/sitemap.xml")],
         "article_patterns": [PATTERN], "timezone": "Europe/Warsaw"},
    ]


@pytest.fixture(scope="module")
def reach(settings, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reach")
    for _ in range(20):
        port = random.randint(20000, 45000)
        try:
            web = SearchWeb(port, request_log=RequestLog(tmp / f"requests-{port}.jsonl")).start()
        except OSError:
            continue
        try:
            standin = GoogleStandin(web.proxy_host, port, web.google_ids(), tmp / "certs").start()
        except OSError:
            web.stop()
            continue
        break
    else:
        pytest.fail("no free port for the search web")
    s = isolated_settings(settings, tmp, "reach", extract_workers=1, autothrottle_start_delay=0.05,
                          retry_backoff=0.2, index_flush_seconds=0.5, throttled_delay=1.0,
                          blocked_after_denials=2, google_news_decode_interval=0.1)
    sources_file = tmp / "sources.yaml"
    sources_file.write_text(yaml.safe_dump({"sources": _sources(web, standin.url)}, allow_unicode=True),
                            encoding="utf-8")
    env = {**settings_environment(s), "SSL_CERT_FILE": str(standin.ca_file)}
    runs = []

    def crawl(names: list[str]) -> tuple[dict, str]:
        stats_file = tmp / f"stats-{len(runs) + 1}.json"
        proc = subprocess.run([sys.executable, "-m", "crawler.crawl_process", "--sources", ",".join(names),
                               "--sources-file", str(sources_file), "--stats-file", str(stats_file)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(json.loads(stats_file.read_text()))
        return runs[-1], proc.stdout + proc.stderr

    first, log = crawl(SEARCH)
    world = {"settings": s, "web": web, "standin": standin, "crawl": crawl, "first": first, "log": log,
             "requests": list(web.requests), "google": list(standin.requests)}
    yield world
    standin.stop()
    web.stop()
    store.drop_all(make_client(s), s)


def _docs(es, s) -> dict[str, dict]:
    es.indices.refresh(index=s.articles_alias)
    hits = es.search(index=s.articles_alias, size=1000, query={"match_all": {}})["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def _doc(docs, url: str) -> dict | None:
    return docs.get(article_id(canonicalize(url)))


def _reasons(items: dict) -> int:
    return sum(v for k, v in items.items() if k not in ("seen", "articles", "decoded_by_google"))


def test_every_item_becomes_an_article_or_a_counted_reason(reach, es):
    docs = _docs(es, reach["settings"])
    expected = {  # what the search web's items are (seeds/demo/search-web.yaml)
        "reach-bing": {"seen": 13, "articles": 5, "duplicate": 1, "robots": 1, "consent_wall": 2, "blocked": 3,
                       "unresolved": 1},
        "reach-google": {"seen": 5, "articles": 3, "no_text": 1, "unresolved": 1},
        "reach-alerts": {"seen": 2, "articles": 2},
    }
    for name, want in expected.items():
        src = reach["first"]["sources"][name]
        items = src["items"]
        assert items == want, (name, items, src["errors"], src["error_samples"])
        assert items["articles"] == items["seen"] - _reasons(items)
        assert src["articles"]["new"] == items["articles"]
        found = [d for d in docs.values() if f"search:{name}" in d.get("found_via", [])]
        assert len(found) == items["articles"], name
    assert len(docs) == 10


def test_articles_are_stored_under_the_publisher_with_the_search_source_in_found_via(reach, es):
    web, docs = reach["web"], _docs(es, reach["settings"])
    vistula = web.publisher("vistula-business")
    first = vistula.articles[0]
    doc = _doc(docs, first.url)
    assert doc["domain"] == vistula.host and doc["site_name"] == vistula.title
    assert doc["source"] == "reach-bing" and doc["found_via"] == ["search:reach-bing"]
    assert doc["title"] == first.title
    # a Polish page writing Warsaw time without a zone, read in the source's timezone
    rynek = web.publisher("rynek-i-dane").articles[0]
    assert _doc(docs, rynek.url)["published_at"].startswith("2026-07-16T18:53:12")
    # a meta refresh inside the site is followed (the article is stored under its own address),
    # one to another site is not
    moved = next(a for a in web.publisher("rynek-i-dane").articles if a.slug.startswith("urzad"))
    assert _doc(docs, moved.url)["found_via"] == ["search:reach-google"]
    assert reach["first"]["sources"]["reach-google"]["meta_refresh"] == {"followed": 1, "refused": 1}


def test_newer_google_news_links_are_resolved_through_the_proxy_once_each(reach):
    google = reach["first"]["sources"]["reach-google"]
    assert google["items"]["unresolved"] == 1
    asked = [path for where, _, path in reach["google"] if where == "google"]
    # two new ids Google knows, one it does not: an article page each, one batchexecute POST
    assert len([p for p in asked if "/rss/articles/" in p]) == 3
    assert len([p for p in asked if p.endswith("/batchexecute")]) == 1
    sample = next(e for e in google["error_samples"] if e["kind"] == "unresolved")
    assert "Google News decoder" in sample["message"]


def test_the_429_host_is_waited_for_and_its_pages_arrive(reach, es):
    web, docs = reach["web"], _docs(es, reach["settings"])
    harbour = web.publisher("harbour-wire")
    for a in harbour.articles:
        seen = [r for r in reach["requests"] if r.host == harbour.host and urlsplit(r.path).path == a.path]
        # the host refuses whoever comes back before its 3 s are over: the page arrived, so the crawler waited
        assert seen[0].status == 429 and seen[-1].status == 200 and _doc(docs, a.url) is not None, seen
        timed = [json.loads(line) for line in web.log.path.read_text().splitlines()]
        answered = [parse_datetime(r["time"]) for r in timed if r["host"] == harbour.host and r["path"] == a.path]
        assert (answered[-1] - answered[0]).total_seconds() >= RETRY_AFTER - 0.1, answered
    bing = reach["first"]["sources"]["reach-bing"]
    assert bing["throttled"]["429"] >= 2 and bing["throttled"]["seconds"] >= 2 * RETRY_AFTER - 1, bing["throttled"]
    assert f"waiting {RETRY_AFTER:.1f} s before trying" in reach["log"]
    assert "repeated 429 answers" in reach["log"]


def test_the_429_wait_holds_back_the_retry(reach):
    import re
    times = []
    for line in reach["log"].splitlines():   # the wait is logged with the page it holds back
        m = re.search(r"answered 429 \(Retry-After: (\d+)\)", line)
        if m:
            times.append(int(m.group(1)))
    assert RETRY_AFTER in times and max(times) <= RETRY_AFTER, times


def test_the_403_host_is_reported_blocked_once_and_asked_no_more(reach):
    web = reach["web"]
    citadel = web.publisher("citadel-times")
    bing = reach["first"]["sources"]["reach-bing"]
    assert bing["errors"].get("blocked") == 1
    assert bing["errors"].get("http_403", 0) == 0
    asked = [r for r in reach["requests"] if r.host == citadel.host]
    # robots.txt (403) and the first page (403): blocked; the other pages are never asked for
    assert [r.path for r in asked][:1] == ["/robots.txt"] and len(asked) == 2, asked
    sample = next(e for e in bing["error_samples"] if e["kind"] == "blocked")
    assert citadel.host in sample["message"]


def test_consent_walls_are_counted_and_never_indexed(reach, es):
    docs = _docs(es, reach["settings"])
    bing = reach["first"]["sources"]["reach-bing"]
    assert bing["dropped_reasons"]["consent_wall"] == 2
    assert not [d for d in docs.values() if "/zgoda/" in d["url"] or "consent" in d["url"]]
    kinds = {e["url"]: e["message"] for e in bing["error_samples"] if e["kind"] == "consent_wall"}
    assert any("consent.google.com" in m for m in kinds.values())
    assert any("/zgoda/" in u for u in kinds)


def test_the_publishers_own_sources_then_add_their_way_and_a_later_run_fetches_nothing(reach, es):
    s, web, crawl = reach["settings"], reach["web"], reach["crawl"]
    web.clear_requests()
    stats, _ = crawl(SITES)
    for name in SITES:
        src = stats["sources"][name]
        assert src["errors"] == {}, (name, src["error_samples"])     # the quirky feeds and the .xml.gz sitemap read cleanly
        assert src["articles"].get("new") == 1, (name, src["articles"])   # the one article no search found
    docs = _docs(es, s)
    assert len(docs) == 13
    vistula = web.publisher("vistula-business")
    doc = _doc(docs, vistula.articles[0].url)
    assert doc["found_via"] == ["search:reach-bing", "feed"] and doc["source"] == "vistula-business"
    assert doc["site_name"] == vistula.title and doc["domain"] == vistula.host
    for a in web.publisher("rynek-i-dane").articles[:3]:
        assert "sitemap" in _doc(docs, a.url)["found_via"]
    archived = {urlsplit(d["url"]).path for d in docs.values()}
    # no page a search source archived was fetched again by its publisher's own source
    again = [r for r in web.requests if urlsplit(r.path).path in archived and r.status == 200]
    assert len(again) == 3, again

    web.clear_requests()
    reach["standin"].requests.clear()
    stats, _ = crawl(SEARCH + SITES)
    assert all(src["articles"].get("new", 0) == 0 for src in stats["sources"].values())
    assert not [r for r in web.requests if urlsplit(r.path).path in archived], \
        {n: (src["fetch_reasons"], src["items"]) for n, src in stats["sources"].items()}
    assert not [r for r in reach["standin"].requests if r[0] == "google"]      # every answer was cached
    assert _docs(es, s).keys() == docs.keys()
    # known: the 5 articles and the 2 consent walls (dropped pages are not fetched again either)
    bing = stats["sources"]["reach-bing"]["items"]
    assert bing == {"seen": 13, "articles": 0, "known": 7, "duplicate": 1, "robots": 1, "blocked": 3,
                    "unresolved": 1}


def _dealwatch(reach, *args: str) -> subprocess.CompletedProcess:
    env = {**settings_environment(reach["settings"]), "SSL_CERT_FILE": str(reach["standin"].ca_file)}
    return subprocess.run([sys.executable, "-m", "dealwatch", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


def test_sources_suggest_lists_the_publishers_search_found_with_their_feeds_and_sitemaps(reach, tmp_path):
    web = reach["web"]
    only_search = tmp_path / "search-only.yaml"
    only_search.write_text(yaml.safe_dump({"sources": [s for s in _sources(web, reach["standin"].url)
                                                       if s["name"] in SEARCH]}), encoding="utf-8")
    proc = _dealwatch(reach, "sources", "suggest", "--sources-file", str(only_search))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    vistula, lakeside, rynek = (web.publisher(n) for n in SITES)
    table = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("127.0.0.")}
    assert table[vistula.host][:3] == ["3", "3", "en"] or table[vistula.host][0] == "3"   # a1, a2 (bing), a3 (alerts)
    assert table[rynek.host][0] == "3" and table[rynek.host][2] == "pl"
    entries = yaml.safe_load(out.split("then run `dealwatch sources check NAME`", 1)[1])
    by_domain = {e["allowed_domains"][0]: e for e in entries}
    assert by_domain[vistula.host]["feeds"] == [vistula.url("/feed.xml")]          # <link rel="alternate">
    assert by_domain[lakeside.host]["feeds"] == [lakeside.url("/feed.xml")]
    assert by_domain[rynek.host]["sitemaps"] == [rynek.url("/sitemap.xml")]        # robots.txt "SITEMAP:"
    assert by_domain[rynek.host]["language"] == "pl" and by_domain[vistula.host]["name"] == "vistula-business-daily"
    # ready to paste: the entries load as sources
    from crawler.sources import parse_sources
    assert [s.name for s in parse_sources({"sources": entries})] == [e["name"] for e in entries]
    # a source that covers a domain takes it off the list
    covered = tmp_path / "with-vistula.yaml"
    covered.write_text(yaml.safe_dump({"sources": [*yaml.safe_load(only_search.read_text())["sources"],
                                                   by_domain[vistula.host]]}), encoding="utf-8")
    again = _dealwatch(reach, "sources", "suggest", "--sources-file", str(covered))
    assert vistula.host not in again.stdout and rynek.host in again.stdout


def test_sources_check_reports_each_url_and_fails_when_a_source_yields_nothing(reach, tmp_path):
    web = reach["web"]
    vistula, lakeside, rynek = (web.publisher(n) for n in SITES)
    citadel = web.publisher("citadel-times")
    sources = [s for s in _sources(web, reach["standin"].url) if s["name"] in ("reach-bing", "rynek-i-dane")] + [
        {"name": "vistula-moved", "language": "en", "feeds": [vistula.url("/rss")]},
        {"name": "lakeside-wrong", "language": "en", "feeds": [lakeside.url("/"), lakeside.url("/no-such-feed.xml")]},
        {"name": "citadel", "language": "en", "feeds": [citadel.url("/feed.xml")]},
    ]
    path = tmp_path / "check.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}), encoding="utf-8")
    proc = _dealwatch(reach, "sources", "check", "--sources-file", str(path))
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr[-2000:]
    assert "reach-bing (search): 13 items" in out
    assert "rynek-i-dane (site): 4 items" in out, out            # the index, and its .xml.gz child
    assert f"sitemap {rynek.url('/sitemap.xml')}: reachable, 1 sitemaps" in out
    assert f"redirected: write {vistula.url('/feed.xml')}" in out and "vistula-moved (site): 4 items" in out
    assert f"feed {lakeside.url('/')}: not a feed" in out
    assert f"feed {lakeside.url('/no-such-feed.xml')}: HTTP 404" in out
    assert f"feed {citadel.url('/feed.xml')}: blocked (HTTP 403)" in out
    assert "2 of 5 source(s) yield nothing: lakeside-wrong, citadel" in out
    ok = _dealwatch(reach, "sources", "check", "--sources-file", str(path), "rynek-i-dane", "vistula-moved")
    assert ok.returncode == 0 and "all 2 source(s) yield items" in ok.stdout


def test_found_via_is_a_facet_and_the_sources_page_counts_the_items_reasons(reach):
    from fastapi.testclient import TestClient

    from crawler.sources import load_sources
    from crawler.supervisor import build_record
    from dealwatch.dates import utcnow
    from indexer.archive import Archive
    from search_ui.app import create_app

    s = reach["settings"]
    archive = Archive(s)
    sources = load_sources(s.data_dir.parent / "sources.yaml")     # the fixture's sources file
    archive.register_sources(src.configured() for src in sources)
    now = utcnow()
    archive.record_run(build_record("reach-bing", "reach-run-1", now, now, reach["first"], 0, False, False, 600))
    with TestClient(create_app(s)) as client:
        page = client.get("/", params={"found_via": "search:reach-bing", "relevance": "all"})
        assert page.status_code == 200
        assert 'data-facet="found_via"' in page.text and "Found via" in page.text
        api = client.get("/api/search", params={"found_via": "search:reach-google", "relevance": "all"}).json()
        assert api["total"] == 3
        facet = {v["value"]: v["count"] for v in api["facets"]["found_via"]}
        assert facet["search:reach-google"] == 3
        sources_page = client.get("/sources").text
        assert "news search:" in sources_page and "found_via=search:reach-bing" in sources_page
        assert "consent_wall 2" in sources_page and "unresolved 1" in sources_page and "blocked 1" in sources_page
        runs = {x["source"]: x for x in client.get("/api/sources").json()["sources"]}
        assert runs["reach-bing"]["kind"] == "search"
        assert runs["reach-bing"]["runs"][0]["dropped_reasons"]["consent_wall"] == 2
