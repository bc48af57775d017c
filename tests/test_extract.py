"""Extraction: one function turns a raw page into an Article, or says why it is not one."""

import gzip
import json

from crawler.extract import Dropped, extract_article
from crawler.worker import PageTask, process_page
from dealwatch.settings import load_settings
from demo_sites import load_sites, route
from conftest import shared_data


def _demo_article(site_name: str, index: int = 0):
    site = next(s for s in load_sites(port=8080) if s.name == site_name)
    art = site.visible_articles(1)[index]
    status, ctype, body, _ = route(site, art.path, 1)
    assert status == 200
    return site, art, body


def test_a_demo_article_page_gives_title_date_language_author_and_canonical_url():
    site, art, body = _demo_article("baltic-ledger")
    # fetched under a tracking-parameter variant: the page's rel=canonical decides identity
    result = extract_article(body, art.url + "?utm_source=rss", site.name, "en")
    assert not isinstance(result, Dropped), result
    assert result.title == art.title
    assert result.published_at == art.published
    assert result.lang == art.lang
    assert result.canonical_url == art.url.rstrip("/")
    assert result.authors == [art.author]
    assert art.body[0][:60] in result.text
    # boilerplate (cookie banner, navigation, related links) stays out of the text
    assert "cookie" not in result.text.lower()


def test_pages_without_article_text_are_dropped_with_a_reason():
    empty = b'<!DOCTYPE html><html lang="en"><head><title></title></head><body></body></html>'
    assert extract_article(empty, "http://x.example/a", "s", "en").reason == "no_text"
    assert extract_article(b"", "http://x.example/a", "s", "en").reason == "no_text"
    assert extract_article(b"%PDF-1.4\n1 0 obj", "http://x.example/a.pdf", "s", "en").reason == "not_html"
    short = "<html><body><article><p>Details to follow.</p></article></body></html>"
    assert extract_article(short, "http://x.example/", "s", "en").reason == "no_text"


def test_hostile_markup_does_not_break_extraction():
    hostile = ("<html><head><title>T</title></head><body>" + "<div>" * 5000 + "<p>" + "word " * 300
               + "</p><script>alert(1)</script>" + "\x00\ufffd" + "</body></html>")
    result = extract_article(hostile.encode("utf-8", "surrogatepass"), "http://x.example/a", "s", "en")
    assert isinstance(result, Dropped) or "alert(1)" not in result.text


def test_bytes_are_decoded_by_the_declared_charset():
    root = shared_data("news-pages")
    rec = next(json.loads(line) for line in open(root / "manifest.jsonl", encoding="utf-8")
               if json.loads(line)["file"] == "fundus-de-WinFuture_2024_04_29.html.gz")
    body = gzip.open(root / rec["file"]).read()
    assert b"charset=iso-8859-1" in body[:3000].lower()
    result = extract_article(body, rec["url"], "winfuture", "de")
    assert result.title == rec["gt_title"]           # "für" decoded from Latin-1
    assert result.lang == "de"


def test_the_worker_function_returns_an_enriched_document_ready_for_the_index(tmp_path):
    site, art, body = _demo_article("baltic-ledger", 1)
    settings = load_settings().replace(data_dir=tmp_path)
    result = process_page(PageTask(url=art.url, body=body, source=site.name, language="en",
                                   raw_warc="raw/x.warc.gz", raw_offset=10, raw_length=20), settings)
    assert result.dropped is None
    doc = result.doc
    assert doc["title"] == art.title and doc["source"] == "baltic-ledger"
    assert doc["raw_warc"] == "raw/x.warc.gz" and doc["raw_offset"] == 10
    assert doc["word_count"] > 50 and doc["content_hash"]


def test_a_page_trafilatura_discards_is_dropped_even_without_a_minimum_length():
    page = b'<!DOCTYPE html><html lang="en"><head><title></title></head><body></body></html>'
    result = extract_article(page, "http://news.example/menu", "example", "en", min_text_chars=0)
    assert isinstance(result, Dropped) and result.reason == "no_text"
