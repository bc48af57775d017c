"""Incremental crawling, article versions and robots.txt, with the real crawler against the
local demo sites and the real Elasticsearch node.

The demo site "baltic-ledger" is crawled in edition 1, then switched to edition 2, where it
has exactly 5 new articles and 1 edited article, and crawled again by the same crawl job.

Specification:
* the second run fetches, of all article pages, only the 5 new ones — plus the edited one,
  whose sitemap/feed date changed — never an unchanged archived article; the archive grows
  by exactly 5 documents;
* the edited article becomes version 2 and its earlier text stays retrievable as version 1;
* pages under /private/ (disallowed by robots.txt, yet linked from the site) are never requested.
"""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import httpx
import pytest

from crawler.canonical import canonicalize
from crawler.supervisor import supervise_crawl
from crawler.sources import load_sources
from demo_sites import EDITION2_NEW_ARTICLES, EDITION2_SITE
from indexer import store
from indexer.client import make_client
from indexer.schema import article_id
from jobs_helpers import article_paths, isolated_settings, private_paths, serve_demo, write_sources

SITE = EDITION2_SITE


@pytest.fixture(scope="module")
def crawled(settings, tmp_path_factory):
    """Two runs of one source: edition 1, then edition 2 (request logs and counts kept)."""
    tmp = tmp_path_factory.mktemp("incremental")
    demo = serve_demo(edition=1)
    s = isolated_settings(settings, tmp, "incr", extract_workers=1)
    es = make_client(s)
    try:
        sources_file = write_sources(demo, tmp / "sources.yaml", [SITE], time_limit="5m")
        [source] = load_sources(sources_file)
        first = supervise_crawl(source, s, sources_file=sources_file)
        requests1 = demo.requests
        count1 = store.count(es, s)
        demo.clear_requests()
        demo.set_edition(2)
        second = supervise_crawl(source, s, sources_file=sources_file)
        requests2 = demo.requests
        count2 = store.count(es, s)
        site = demo.site(SITE)
        home = httpx.get(site.base_url, timeout=10).text
        yield SimpleNamespace(settings=s, es=es, site=site, first=first, second=second, requests1=requests1,
                              requests2=requests2, count1=count1, count2=count2, home=home)
    finally:
        demo.stop()
        store.drop_all(es, s)


def test_the_first_run_archives_every_article_of_the_site(crawled):
    expected = crawled.site.visible_articles(1)
    assert crawled.first.status == "ok", crawled.first.last_error
    assert crawled.count1 == len(expected)
    assert crawled.first.articles["new"] == len(expected)
    fetched = article_paths(crawled.requests1, crawled.site.host)
    assert sorted(fetched) == sorted(a.path for a in expected)        # each article page once


def test_the_next_run_fetches_only_the_new_article_pages(crawled):
    site = crawled.site
    new = {a.path for a in site.visible_articles(2) if a.edition == 2}
    edited = {a.path for a in site.visible_articles(2) if a.revised}
    assert len(new) == EDITION2_NEW_ARTICLES
    fetched = article_paths(crawled.requests2, site.host)
    counts = Counter(fetched)
    print(f"\nincremental run: {len(crawled.requests2)} requests in all, {len(fetched)} article pages "
          f"({len(set(fetched) & new)} new, {len(set(fetched) & edited)} edited, "
          f"{len(set(fetched) - new - edited)} other); first run: {len(crawled.requests1)} requests, "
          f"{len(article_paths(crawled.requests1, site.host))} article pages")
    assert max(counts.values()) == 1, f"article pages fetched twice: {counts.most_common(3)}"
    assert set(fetched) - edited == new, f"unexpected article pages: {sorted(set(fetched) - edited - new)}"
    assert crawled.count2 == crawled.count1 + EDITION2_NEW_ARTICLES
    assert crawled.second.articles["new"] == EDITION2_NEW_ARTICLES


def test_an_edited_article_becomes_a_new_version_and_keeps_the_old_text(crawled):
    [edited] = [a for a in crawled.site.visible_articles(2) if a.revised]
    doc_id = article_id(canonicalize(edited.url))
    doc = store.get_document(crawled.es, crawled.settings, doc_id)
    assert doc is not None, f"{edited.url} is not archived under id {doc_id}"
    assert doc["version"] == 2
    assert edited.revised[0][:60] in doc["text"]
    [old] = store.get_versions(crawled.es, crawled.settings, doc_id)
    assert old["version"] == 1
    assert edited.body[0][:60] in old["text"]
    assert edited.revised[0][:60] not in old["text"]
    assert old["valid_to"] is not None
    assert crawled.second.articles["updated"] == 1


def test_pages_disallowed_by_robots_txt_are_never_requested(crawled):
    assert crawled.site.private_pages and "/private/" in crawled.home      # linked, so a crawler could go
    requests = crawled.requests1 + crawled.requests2
    assert any(r.path == "/robots.txt" for r in requests)
    assert private_paths(requests) == []
