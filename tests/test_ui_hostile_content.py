"""Hostile stored content and the smaller edges of issue 16 (C17): evidence marks, ids in links, the raw
page's Content-Type, spreadsheet formulas in CSV cells, javascript: links in the feed, and an OpenAPI
document that says what the app really answers."""

from __future__ import annotations

import csv
import io
import re

import feedparser
import httpx
import pytest

import search_archive as sa
from indexer import export
from live import serve
from search_ui.app import create_app
from search_ui.render import text_with_evidence


# --- evidence marks ------------------------------------------------------------------------------

@pytest.mark.parametrize("evidence", [
    ["Banks share data.", "share data"],                     # one inside another
    ["Banks share data.", "Banks share data. They"],         # overlapping
    ["evidence", "relevance evidence", "mark", "title"],     # the words of the mark's own markup
    ["&", "<b>", "b"],                                       # what escaping changes
])
def test_evidence_marks_never_nest_and_never_break_their_markup(evidence):
    text = 'Banks share data. They share data with <b>"evidence"</b> & a mark of relevance evidence in the title.'
    (para,) = text_with_evidence(text, evidence)
    html = str(para)
    assert html.count("<mark") == html.count("</mark>")
    assert not re.search(r"<mark[^>]*>(?:(?!</mark>).)*<mark", html)        # no mark opened inside a mark
    assert re.sub(r"<mark[^>]*>|</mark>", "", html) == (text.replace("&", "&amp;").replace("<", "&lt;")
                                                         .replace(">", "&gt;").replace('"', "&quot;"))
    assert "<mark" in html


# --- ids in links -------------------------------------------------------------------------------

ODD_ID = "odd id?x=1&y#frag%20"


@pytest.fixture()
def odd(es, settings, archive):
    a = sa.TestArticle("odd-id", "Oddly named Citigroup note", "Citigroup customers and their card data.",
                       "news-en", "en", sa._d(2024, 3, 3), [sa.CITI, ("a&b", "A&B Bank", "bank")], cluster="c-odd")
    doc = sa.document_for(a, settings)
    doc["id"] = ODD_ID
    doc["url"] = "javascript:alert(document.cookie)"
    es.index(index=settings.articles_alias, id=ODD_ID, document=doc, refresh="wait_for")
    yield doc
    es.delete(index=settings.articles_alias, id=ODD_ID, refresh="wait_for")


def test_ids_are_encoded_in_every_link(client, settings, odd):
    page = client.get("/", params={"q": "oddly", "relevance": "all"}).text
    assert 'href="/articles/odd%20id%3Fx%3D1%26y%23frag%2520"' in page
    assert 'href="/entities/a%26b"' in page
    # followed over a real connection: Starlette's test client decodes a path twice (%2520 -> " ")
    with serve(create_app(settings)) as base:
        article = httpx.get(base + "/articles/odd%20id%3Fx%3D1%26y%23frag%2520")
    assert article.status_code == 200 and "Oddly named Citigroup note" in article.text
    assert 'href="/api/articles/odd%20id%3Fx%3D1%26y%23frag%2520"' in article.text
    entity = client.get("/entities/a%26b").text
    assert 'href="/?entity=a%26b&amp;relevance=all"' in entity


def test_the_feed_links_no_javascript_and_encodes_ids(client, odd):
    r = client.get("/feed.atom", params={"q": "oddly", "relevance": "all"})
    assert "javascript:" not in r.text
    (entry,) = feedparser.parse(r.content).entries
    assert {link.href for link in entry.links} == {"http://testserver/articles/odd%20id%3Fx%3D1%26y%23frag%2520"}


# --- the raw page ---------------------------------------------------------------------------------

def test_the_raw_page_is_served_with_the_content_type_the_crawler_read(client, es, settings, archive):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter
    raw_dir = settings.data_dir / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    path = raw_dir / "two-types.warc.gz"
    body = "<html><body><p>Zażółć gęślą jaźń</p></body></html>".encode("utf-8")
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=iso-8859-2"),
                                              ("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(sa.BY_KEY["fb-pl"].url, "response",
                                                      payload=io.BytesIO(body), http_headers=headers))
        length = fh.tell()
    es.update(index=settings.articles_alias, id=archive["fb-pl"], refresh="wait_for",
              doc={"raw_warc": "raw/two-types.warc.gz", "raw_offset": 0, "raw_length": length})
    raw = client.get(f"/articles/{archive['fb-pl']}/raw")
    assert raw.status_code == 200 and raw.headers["content-type"] == "text/html; charset=utf-8"
    assert raw.text == body.decode("utf-8")
    assert "frame-ancestors 'none'" in raw.headers["content-security-policy"]


# --- formulas in CSV cells -------------------------------------------------------------------------

@pytest.mark.parametrize("cell, neutral", [
    ("=1+1", True), ("+1", True), ("-1", True), ("@SUM(A1)", True), ("\t=1", True), ("\r=1", True),
    ("\n=1", True), (" =1", True), ("\u00a0=1", True), ("\u3000=1", True), ("  \n =HYPERLINK(x)", True),
    ("\uff1dSUM(A1)", True), ("\uff0b1", True), ("\uff0d1", True), ("\uff20x", True),
    ("plain", False), (" plain", False), ("a=b", False), ("", False), ("1-2", False),
])
def test_cells_a_spreadsheet_would_run_are_neutralised(cell, neutral):
    assert export.neutralise(cell) == ("'" + cell if neutral else cell)


def test_the_csv_export_neutralises_a_formula_behind_white_space(client, es, settings, archive):
    a = sa.TestArticle("ws-formula", "\u00a0=HYPERLINK(\"http://evil.test\",\"open\") Citigroup",
                       "\n=cmd|' /C calc'!A0 Citigroup data.", "news-en", "en", sa._d(2024, 2, 3), [sa.CITI],
                       cluster="c-ws", authors=[" @attacker"])
    doc = sa.document_for(a, settings)
    es.index(index=settings.articles_alias, id=doc["id"], document=doc, refresh="wait_for")
    try:
        r = client.get("/export.csv", params={"q": "hyperlink calc", "fields": "title,author,text",
                                                "relevance": "all"})
        (row,) = list(csv.DictReader(io.StringIO(r.text)))
        assert row["title"].startswith("'\u00a0=HYPERLINK") and row["author"] == "' @attacker"
        assert row["text"].startswith("'\n=cmd")
    finally:
        es.delete(index=settings.articles_alias, id=doc["id"], refresh="wait_for")


# --- the OpenAPI document ------------------------------------------------------------------------------

def test_openapi_documents_the_errors_the_app_answers(client):
    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            responses = operation["responses"]
            assert "422" not in responses, path
            assert {"400", "414", "503"} <= set(responses), path
            if "{" in path:
                assert "404" in responses, path
    error = spec["paths"]["/api/search"]["get"]["responses"]["400"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}
    assert client.get("/api/search", params={"size": "x"}).json()["error"]["status"] == 400


@pytest.mark.parametrize("path, media", [("/export.csv", "text/csv"), ("/export.jsonl", "application/x-ndjson"),
                                         ("/histogram.csv", "text/csv"), ("/feed.atom", "application/atom+xml")])
def test_openapi_documents_each_download_with_its_media_type(client, path, media):
    ok = client.get("/openapi.json").json()["paths"][path]["get"]["responses"]["200"]["content"]
    assert list(ok) == [f"{media}; charset=utf-8"]
    assert client.get(path).headers["content-type"] == f"{media}; charset=utf-8"
