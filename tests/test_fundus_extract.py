"""Fundus in the extraction: publisher parsers for the pages they know, trafilatura for the rest.

The tests that need Fundus itself skip when it is not importable (its ``lxml<6`` pin keeps it
out of the project's venv; see BENCHMARKS.md §5): run them in a venv that holds it. The
others run everywhere.
"""

from __future__ import annotations

import gzip
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest

from crawler import fundus_extract
from crawler.extract import Dropped, decode_html, extract_article
from crawler.worker import PageTask, process_page
from dealwatch.settings import get_settings, load_settings, set_settings
from conftest import shared_data

GUARDIAN = "fundus-uk-TheGuardian_2024_02_24.html.gz"   # a publisher Fundus has a parser for
NOT_SUPPORTED = "irdata-chaos-all-xiaomi_9.html.gz"     # tech.firstpost.com: no Fundus parser

needs_fundus = pytest.mark.skipif(not fundus_extract.available(), reason="fundus is not installed in this venv")


def _page(name: str) -> tuple[dict, bytes]:
    root = shared_data("news-pages")
    rec = next((json.loads(line) for line in open(root / "manifest.jsonl", encoding="utf-8")
                if json.loads(line)["file"] == name), None)
    if rec is None:
        pytest.skip(f"{name} is not in the shared news pages")
    return rec, gzip.open(root / rec["file"]).read()


def _crawled(rec: dict) -> datetime:
    return datetime.fromisoformat(rec["crawl_date"]).replace(tzinfo=timezone.utc)


@pytest.fixture()
def fundus_setting():
    """Switch ``fundus_extraction`` in the process-wide settings (what the crawl's workers get)."""
    before = get_settings()

    def switch(on: bool):
        s = load_settings().replace(fundus_extraction=on)
        set_settings(s)
        return s
    yield switch
    set_settings(before)


@needs_fundus
def test_with_the_setting_on_a_supported_publisher_gets_its_body_from_fundus(fundus_setting, tmp_path):
    rec, html = _page(GUARDIAN)
    settings = fundus_setting(True).replace(data_dir=tmp_path)
    result = process_page(PageTask(url=rec["url"], body=html, source="guardian", language="en",
                                   crawled_at=_crawled(rec)), settings)
    assert result.dropped is None, result.message
    doc = result.doc
    found = fundus_extract.parse(decode_html(html), rec["url"], _crawled(rec))
    assert found is not None and found.publisher == "The Guardian"
    assert doc["text"] == found.text                       # the body is Fundus'
    # the document is complete: Fundus' title, authors and date, trafilatura's canonical URL and site
    assert doc["title"] == rec["gt_title"]
    assert doc["authors"] == rec["gt_authors"]
    published = datetime.fromisoformat(doc["published_at"].replace("Z", "+00:00"))
    assert abs(published - datetime.fromisoformat(rec["gt_date"])) < timedelta(days=1)
    assert doc["canonical_url"] == rec["url"]
    assert doc["site_name"] and doc["lang"] == "en"


@needs_fundus
def test_with_the_setting_off_the_same_page_goes_through_trafilatura(fundus_setting):
    rec, html = _page(GUARDIAN)
    fundus_setting(False)
    off = extract_article(html, rec["url"], "guardian", "en", crawled_at=_crawled(rec))
    found = fundus_extract.parse(decode_html(html), rec["url"], _crawled(rec))
    assert not isinstance(off, Dropped)
    assert off.text != found.text
    assert off.title == rec["gt_title"] and off.canonical_url == rec["url"]


@needs_fundus
def test_a_page_the_publishers_parser_cannot_read_falls_back_to_trafilatura():
    # a real article (trafilatura reads it) offered under the address of a publisher Fundus has a
    # parser for: that parser finds no body of its site's markup in it, so trafilatura extracts it
    rec, html = _page(NOT_SUPPORTED)
    foreign = "https://www.theguardian.com/technology/2017/jan/01/some-article"
    assert fundus_extract.publisher_for(foreign) is not None
    found = fundus_extract.parse(decode_html(html), foreign)
    assert found is None or len(found.text) < 200
    on = extract_article(html, foreign, "s", "en", fundus=True)
    off = extract_article(html, foreign, "s", "en", fundus=False)
    assert not isinstance(on, Dropped)
    assert on.text == off.text and on.title == off.title


@needs_fundus
def test_publishers_are_chosen_by_host_including_subdomains():
    assert fundus_extract.publisher_for("https://www.theguardian.com/world/x").name == "The Guardian"
    assert fundus_extract.publisher_for("https://theguardian.com/world/x").name == "The Guardian"
    assert fundus_extract.publisher_for("http://politics.people.com.cn/n1/2024/0424/c1.html") is not None
    assert fundus_extract.publisher_for("https://tech.firstpost.com/news/x.html") is None
    assert fundus_extract.publisher_for("https://theguardian.com.evil.example/x") is None
    assert fundus_extract.publisher_for("not a url") is None


def test_a_publisher_fundus_does_not_know_is_extracted_by_trafilatura_with_the_setting_on():
    rec, html = _page(NOT_SUPPORTED)
    on = extract_article(html, rec["url"], "firstpost", "en", fundus=True)
    off = extract_article(html, rec["url"], "firstpost", "en", fundus=False)
    assert not isinstance(on, Dropped)
    assert on.text == off.text and on.title == off.title and on.canonical_url == off.canonical_url


@pytest.mark.skipif(fundus_extract.available(), reason="fundus is installed here")
def test_without_fundus_installed_the_setting_on_still_extracts_with_trafilatura(caplog):
    rec, html = _page(GUARDIAN)
    fundus_extract._publishers.cache_clear()
    with caplog.at_level(logging.WARNING, logger="crawler.fundus_extract"):
        on = extract_article(html, rec["url"], "guardian", "en", fundus=True)
    off = extract_article(html, rec["url"], "guardian", "en", fundus=False)
    assert not isinstance(on, Dropped) and on.text == off.text
    assert "fundus cannot be imported" in caplog.text
