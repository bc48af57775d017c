"""End to end: `python -m crawler.crawl_process` over the real demo sites (HTTP on loopback) into the real index.

One crawl of every demo source is shared by the first tests; later tests crawl again and
read the demo server's request log to see what was (not) fetched.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from crawler.canonical import canonicalize
from crawler.known_urls import KnownUrls
from crawler.reextract import reextract
from demo_sites import ARTICLE_PATH, DemoSites, expected_articles
from indexer.raw_pages import read_record
from indexer import store
from indexer.schema import article_id

REPO = Path(__file__).resolve().parents[1]
ALL = ["baltic-ledger", "kurier-nadwislanski", "harbour-tribune", "night-wire", "silent-gazette"]
TROUBLE = "night-wire"
GOOD = ["baltic-ledger", "kurier-nadwislanski", "harbour-tribune"]


def _serve() -> DemoSites:
    last = None
    for _ in range(20):
        try:
            return DemoSites(port=random.randint(20000, 45000), edition=1, slow_seconds=2).start()
        except OSError as exc:
            last = exc
    raise RuntimeError(f"no free port for the demo sites: {last}")


class Crawl:
    """Runs crawls the way the scheduler does: a `python -m crawler.crawl_process` process."""

    def __init__(self, settings, tmp: Path, demo: DemoSites):
        self.settings = settings
        self.tmp = tmp
        self.demo = demo
        self.runs = 0
        sources = demo.sources()
        for s in sources:  # let the spider try the robots-disallowed preview pages as articles
            if s["name"] == "baltic-ledger":
                s["article_patterns"] = [*s["article_patterns"], "^/private/"]
        self.sources_file = tmp / "sources.yaml"
        self.sources_file.write_text(yaml.safe_dump({"sources": sources}, sort_keys=False), encoding="utf-8")

    def env(self) -> dict[str, str]:
        s = self.settings
        return {**os.environ, "DEALWATCH_INDEX_PREFIX": s.index_prefix, "DEALWATCH_DATA_DIR": str(s.data_dir),
                "DEALWATCH_AUTOTHROTTLE_START_DELAY": "0.05", "DW_RETRY_BACKOFF": "0.2",
                "DEALWATCH_EXTRACT_WORKERS": "1", "DEALWATCH_INDEX_FLUSH_SECONDS": "0.5"}

    def __call__(self, names: list[str]) -> tuple[dict, str]:
        self.runs += 1
        stats_file = self.tmp / f"stats-{self.runs}.json"
        proc = subprocess.run([sys.executable, "-m", "crawler.crawl_process", "--sources", ",".join(names),
                               "--sources-file", str(self.sources_file), "--stats-file", str(stats_file),
                               "--run-id", f"test{self.runs}"],
                              cwd=REPO, env=self.env(), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(stats_file.read_text()), proc.stdout


@pytest.fixture(scope="module")
def world(settings, es, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crawl-demo")
    s = settings.replace(index_prefix=f"{settings.index_prefix}crawl-", data_dir=tmp / "data")
    store.drop_all(es, s)
    demo = _serve()
    crawl = Crawl(s, tmp, demo)
    first, report = crawl(ALL)
    requests_first = list(demo.requests)
    yield {"settings": s, "demo": demo, "crawl": crawl, "stats": first, "report": report,
           "requests": requests_first}
    demo.stop()
    store.drop_all(es, s)


def _docs(es, s) -> dict[str, dict]:
    es.indices.refresh(index=s.articles_alias)
    hits = es.search(index=s.articles_alias, size=1000, query={"match_all": {}})["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def test_every_edition_1_article_is_indexed_exactly_once_with_title_date_and_language(world, es):
    s, demo = world["settings"], world["demo"]
    expected = expected_articles(1, sites=demo.sites)
    docs = _docs(es, s)
    assert len(docs) == len(expected) > 0
    for art in expected:
        doc = docs.get(article_id(canonicalize(art.url)))
        assert doc is not None, f"{art.url} not indexed"
        assert doc["title"] == art.title
        assert doc["published_at"][:19] == art.published.isoformat()[:19]
        assert doc["lang"] == art.lang
        assert doc["source"] == art.site
    new = sum(src["articles"].get("new", 0) for src in world["stats"]["sources"].values())
    assert new == len(expected)


def test_tracking_and_trailing_slash_variants_are_fetched_once_and_stored_once(world, es):
    docs = _docs(es, world["settings"])
    assert not [d["canonical_url"] for d in docs.values() if "utm_" in d["canonical_url"] or "fbclid" in d["canonical_url"]]
    # the demo links some articles with tracking parameters and without their slash: one request each
    fetched = [f"{r.host}{urlsplit(r.path).path.rstrip('/')}" for r in world["requests"]
               if ARTICLE_PATH.match(urlsplit(r.path).path) and not r.host.startswith("127.0.0.5")]
    assert len(fetched) == len(set(fetched)) > 0


def test_robots_disallowed_pages_are_never_requested_and_are_counted(world):
    assert not [r for r in world["requests"] if r.path.startswith(("/private", "/newsletter"))]
    assert world["stats"]["sources"]["baltic-ledger"]["errors"].get("robots", 0) >= 1
    assert any(r.path == "/robots.txt" for r in world["requests"])


def test_the_trouble_sites_bad_pages_are_counted_with_their_reasons(world, es):
    src = world["stats"]["sources"][TROUBLE]
    assert src["errors"].get("http_404") == 1
    assert src["errors"].get("http_500") == 1
    assert src["errors"].get("redirect_loop") == 2                # A -> B -> A and B -> A -> B
    assert src["errors"].get("feed") == 1                         # the malformed second feed
    assert src["dropped_reasons"] == {"no_text": 1, "not_html": 1, "too_large": 1}
    assert src["finish_reason"] == "finished"
    kinds = {e["kind"] for e in src["error_samples"]}
    assert {"http_404", "http_500", "redirect_loop", "feed", "no_text", "not_html", "too_large"} <= kinds
    # the printed report names each reason with a sample URL
    assert "dropped too_large: 1 (e.g. http://127.0.0.5" in world["report"]
    # ... and its good articles are in the index like everyone else's
    good = [a for a in expected_articles(1, sites=world["demo"].sites) if a.site == TROUBLE]
    docs = _docs(es, world["settings"])
    assert all(article_id(canonicalize(a.url)) in docs for a in good)
    # a 500 is retried (with backoff), a 404 is not
    paths = [r.path for r in world["requests"] if r.host == "127.0.0.5"]
    assert paths.count("/2025/03/database-timeout/") == 3
    assert paths.count("/2025/03/withdrawn-story/") == 1
    assert paths.count("/2025/03/loop-a/") <= 2                    # the loop is noticed, not run 20 times


def test_an_unreachable_source_is_reported_and_the_run_still_completes(world):
    src = world["stats"]["sources"]["silent-gazette"]
    assert src["errors"].get("connection", 0) >= 1
    assert src["pages_fetched"] == 0
    assert world["stats"]["finished"] is True
    assert "silent-gazette" in world["report"] and "error connection" in world["report"]


def test_raw_pages_are_kept_in_warc_and_reextract_rebuilds_equal_documents(world, es):
    s = world["settings"]
    docs = _docs(es, s)
    for doc in docs.values():
        page = read_record(s.data_dir, doc["raw_warc"], doc["raw_offset"])
        assert page.url == doc["url"] and b"<html" in page.body[:500].lower()
        assert (s.data_dir / doc["raw_warc"]).name.startswith(("2", "1"))   # <YYYYMMDD>-<run>.warc.gz
    rebuilt_settings = s.replace(index_prefix=f"{s.index_prefix}re-")
    store.drop_all(es, rebuilt_settings)
    try:
        result = reextract(rebuilt_settings, workers=1)
        assert result.written["new"] == len(docs)
        rebuilt = _docs(es, rebuilt_settings)
        assert set(rebuilt) == set(docs)
        for doc_id, doc in docs.items():
            for field in ("title", "text", "canonical_url", "published_at", "lang", "authors", "content_hash",
                          "raw_warc", "raw_offset", "source"):
                assert rebuilt[doc_id].get(field) == doc.get(field), (doc_id, field)
    finally:
        store.drop_all(es, rebuilt_settings)


def test_a_second_crawl_adds_nothing_and_fetches_no_article_page_again(world, es):
    s, demo, crawl = world["settings"], world["demo"], world["crawl"]
    before = _docs(es, s)
    demo.clear_requests()
    stats, _ = crawl(GOOD)   # the trouble site is left out: its robots.txt Crawl-delay makes it slow
    assert _docs(es, s).keys() == before.keys()
    for name, src in stats["sources"].items():
        assert src["articles"].get("new", 0) == 0, name
    again = [f"{r.host}{r.path}" for r in demo.requests if ARTICLE_PATH.match(urlsplit(r.path).path)]
    assert again == []
    assert stats["sources"]["baltic-ledger"]["skipped_known"] >= 1


def test_after_a_killed_crawl_and_a_site_update_the_next_run_fetches_only_new_and_edited_articles(world, es):
    """Two things a run must catch up on, in one run (each crawl costs worker start-up time):

    - what a SIGKILL between archiving and indexing leaves behind: pages marked `fetched`, in a WARC
      but not in the index. They are indexed from the WARC, none of them is requested;
    - edition 2 of the demo: new articles appear, one article is edited (its sitemap lastmod moves).
      Exactly those pages are requested; the edit becomes version 2 and the old text stays retrievable.
    """
    from datetime import datetime, timezone

    from crawler.canonical import url_key

    s, demo, crawl = world["settings"], world["demo"], world["crawl"]
    e1 = {a.url for a in expected_articles(1, sites=demo.sites) if a.site == "baltic-ledger"}
    e2 = [a for a in expected_articles(2, sites=demo.sites) if a.site == "baltic-ledger"]
    added = [a for a in e2 if a.url not in e1]
    revised = [a for a in e2 if a.revised and a.url in e1]
    revised_ids = {article_id(canonicalize(a.url)) for a in revised}
    docs = {i: d for i, d in _docs(es, s).items() if d["source"] == "baltic-ledger" and i not in revised_ids}
    victims = list(docs.values())[:3]
    known = KnownUrls.from_settings(s)
    for d in victims:
        known.mark_fetched(url_key(d["url"]), "baltic-ledger", d["url"], d["raw_warc"], d["raw_offset"],
                           d["raw_length"], None, datetime.now(timezone.utc))
        es.delete(index=s.articles_alias, id=d["id"], refresh=True)
    known.close()

    demo.set_edition(2)
    demo.clear_requests()
    stats, _ = crawl(["baltic-ledger"])
    src = stats["sources"]["baltic-ledger"]
    assert src["recovered"] == 3
    # why pages were requested: the new articles (and the robots-disallowed preview links, refused
    # before any request), and the edited one because its sitemap date moved
    assert src["fetch_reasons"] == {"new": len(added) + src["errors"].get("robots", 0), "lastmod": len(revised)}
    assert src["articles"].get("new") == len(added) + 3 and len(added) > 0
    assert src["articles"].get("updated") == len(revised) > 0
    assert set(_docs(es, s)) >= {d["id"] for d in victims}
    requested = sorted({urlsplit(r.path).path.rstrip("/") for r in demo.requests
                        if ARTICLE_PATH.match(urlsplit(r.path).path)})
    assert requested == sorted({urlsplit(a.url).path.rstrip("/") for a in added + revised})
    for a in revised:
        doc_id = article_id(canonicalize(a.url))
        assert store.get_document(es, s, doc_id)["version"] == 2
        old = store.get_versions(es, s, doc_id)
        assert len(old) == 1 and a.body[0][:50] in old[0]["text"]


def test_the_demos_search_source_lands_the_publishers_articles_and_shares_the_demo_sites_ones(world, es):
    """The demo's news-search source (seeds/demo/sources.yaml, the search web beside the sites): its
    items lead to two demo sites archived by their own sources (known: they gain the search source's
    ``found_via`` and keep their source), two other publishers (new articles under their own domain and
    site name), a consent wall and a broken link: every item is counted."""
    s, demo, crawl = world["settings"], world["demo"], world["crawl"]
    stats, report = crawl(["newsfinder-search"])
    src = stats["sources"]["newsfinder-search"]
    assert src["items"] == {"seen": 7, "articles": 2, "known": 3, "consent_wall": 1, "unresolved": 1}, src
    assert "search items 7: articles 2, consent_wall 1, known 3, unresolved 1" in report
    docs = _docs(es, s)
    found = {d["domain"]: d for d in docs.values() if "search:newsfinder-search" in d.get("found_via", [])}
    assert set(found) == {"127.0.0.2", "127.0.0.3", "127.0.0.21", "127.0.0.22"}
    assert found["127.0.0.2"]["source"] == "baltic-ledger" and found["127.0.0.3"]["source"] == "kurier-nadwislanski"
    vistula = demo.search_web.publisher("vistula-business")
    assert found[vistula.host]["source"] == "newsfinder-search" and found[vistula.host]["site_name"] == vistula.title
