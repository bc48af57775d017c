"""The server-rendered pages: search, article (versions, raw page, hostile text), entities, feed."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import feedparser

import search_archive as sa
from indexer import store


def test_search_page_shows_hits_facets_chart_and_exports(client, archive):
    r = client.get("/", params={"q": "facebook"})
    assert r.status_code == 200
    page = r.text
    assert '<strong id="total">4</strong>' in page  # relevant only by default
    assert f'href="/articles/{archive["fb-pl"]}"' in page
    assert "<mark>Facebook</mark>" in page
    assert 'data-facet="entity"' in page and "JPMorgan Chase" in page
    assert "<svg" in page and "matching of" in page
    assert 'href="/export.csv?q=facebook"' in page and 'href="/feed.atom?q=facebook"' in page
    assert "1 similar article" in page and "in 3 stories" in page
    assert "Rendered in" in page and r.headers["X-Render-Time"]


def test_facet_links_toggle_filters_in_the_url(client):
    page = client.get("/", params=[("q", "bank"), ("entity", "fb")]).text
    assert 'href="/?q=bank&amp;entity=fb&amp;entity=jpm"' in page     # add a second entity (AND)
    assert 'href="/?q=bank"' in page                                  # remove the chosen one


def test_malformed_query_shows_a_message_not_a_crash(client):
    r = client.get("/", params={"q": 'facebook "card'})
    assert r.status_code == 400
    assert 'id="query-error"' in r.text and "never closed" in r.text
    assert 'value="facebook &#34;card"' in r.text  # the query stays in the box, escaped


def test_hostile_article_is_shown_inert(client, archive):
    r = client.get(f"/articles/{archive['hostile']}")
    assert r.status_code == 200
    page = r.text
    for bad in ("<script>alert", "<img src=x", "<iframe", '<b onmouseover'):  # as text only, escaped
        assert bad not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    results = client.get("/", params={"q": "hostile"}).text
    assert "<script>alert" not in results and "&lt;script&gt;" in results
    assert "&lt;i&gt;Evil&lt;/i&gt;" in page


def test_article_page_metadata_entities_and_evidence(client, archive):
    page = client.get(f"/articles/{archive['fb-banks']}").text
    assert 'href="/entities/jpm"' in page and "JPMorgan Chase" in page
    assert '<mark class="evidence"' in page
    assert 'id="original-link"' in page and sa.BY_KEY["fb-banks"].url in page
    assert 'id="raw-missing"' in page                     # no WARC written for it
    assert f'href="/articles/{archive["fb-banks-wire"]}"' in page  # the other copy of its cluster


def test_changed_article_shows_versions_with_a_diff(client, es, settings, archive):
    a = sa.BY_KEY["amazon-wf"]
    changed = sa.TestArticle(**{**a.__dict__, "text": a.text + "\nUpdate: Wells Fargo declined to comment."})
    doc = sa.document_for(changed, settings)
    doc["crawled_at"] = datetime(2024, 7, 5, tzinfo=timezone.utc).isoformat()
    assert store.write_documents(es, settings, [doc], refresh="wait_for").updated == 1
    page = client.get(f"/articles/{archive['amazon-wf']}").text
    assert "version 1" in page and "→ 2" in page
    assert '<span class="add">+Update: Wells Fargo declined to comment.</span>' in page
    api = client.get(f"/api/articles/{archive['amazon-wf']}").json()
    assert api["version"] == 2 and [v["version"] for v in api["versions"]] == [1]


def test_raw_archived_page_is_served_sandboxed(client, es, settings, archive):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter
    raw_dir = settings.data_dir / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    path = raw_dir / "test-pages.warc.gz"
    html = b"<html><body><script>alert('raw')</script><p>Raw hostile page</p></body></html>"
    with open(path, "ab") as fh:
        offset = fh.tell()
        writer = WARCWriter(fh, gzip=True)
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(sa.BY_KEY["hostile"].url, "response",
                                                      payload=io.BytesIO(html), http_headers=headers))
        length = fh.tell() - offset
    es.update(index=settings.articles_alias, id=archive["hostile"], refresh="wait_for",
              doc={"raw_warc": "raw/test-pages.warc.gz", "raw_offset": offset, "raw_length": length})
    page = client.get(f"/articles/{archive['hostile']}").text
    assert f'href="/articles/{archive["hostile"]}/raw"' in page
    raw = client.get(f"/articles/{archive['hostile']}/raw")
    assert raw.status_code == 200 and raw.content == html
    assert raw.headers["content-security-policy"].startswith("sandbox")  # scripts cannot run
    assert client.get(f"/articles/{archive['fb-banks']}/raw").status_code == 404


def test_entity_pages(client, archive):
    listing = client.get("/entities").text
    assert 'href="/entities/fb"' in listing and 'data-typeahead="/api/entities"' in listing
    assert 'href="/entities/citi"' in client.get("/entities", params={"prefix": "cit"}).text
    page = client.get("/entities/jpm").text
    assert "JPMorgan Chase" in page and "<svg" in page
    assert 'href="/entities/citi"' in page                       # co-mentioned
    assert f'href="/articles/{archive["fb-banks-wire"]}"' in page  # latest relevant
    assert client.get("/entities/nobody").status_code == 404


def test_sources_and_help_pages(client):
    assert "news-pl" in client.get("/sources").text
    assert "words starting with" in client.get("/help").text


def test_atom_feed_lists_newest_matches(client, archive):
    r = client.get("/feed.atom", params={"q": "citigroup", "relevant": "0"})
    assert r.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "DealWatch: citigroup"
    links = [e.link for e in feed.entries]
    assert links[:3] == [sa.BY_KEY["fb-banks-wire"].url, sa.BY_KEY["fb-banks"].url, sa.BY_KEY["formula"].url]
    assert len(feed.entries) == 4
    hostile = feedparser.parse(client.get("/feed.atom", params={"q": "hostile"}).content)
    assert not hostile.bozo and "<script>" in hostile.entries[0].title  # text, escaped in the XML
