"""Discovery on a section page: every good link is followed, whatever else the page links to.

Real pages carry malformed links: four pages of the news-pages test corpus link to
``http://[ccpa-preferences]``, which is not a URL (its brackets promise an IPv6 address), and
Python's URL parser raises on it.

Specification:
* a section page's article links are all requested, also those after a malformed link;
  the malformed link itself is skipped.
"""

from __future__ import annotations

from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.extensions import CrawlState
from crawler.settings import scrapy_settings
from crawler.sources import parse_sources
from crawler.spiders.news import NewsSpider

SECTION = "https://news.example/business/"
ARTICLES = [f"/2026/11/story-{n}/" for n in range(1, 4)]


def test_a_malformed_link_does_not_hide_the_links_after_it(settings, tmp_path):
    s = settings.replace(data_dir=tmp_path / "data")
    [source] = parse_sources({"sources": [{"name": "example", "language": "en", "sections": [SECTION],
                                            "article_patterns": ["^/2026/"]}]})
    crawler = get_crawler(NewsSpider, scrapy_settings(s, "test-run"))
    spider = NewsSpider.from_crawler(crawler, source=source)
    links = [f'<a href="{ARTICLES[0]}">one</a>', '<a href="http://[ccpa-preferences]">privacy</a>',
             *(f'<a href="{p}">more</a>' for p in ARTICLES[1:])]
    page = HtmlResponse(SECTION, body=f"<html><body>{''.join(links)}</body></html>".encode(), encoding="utf-8")
    try:
        requested = [r.url for r in spider.parse_section(page)]
    finally:
        crawler.get_extension(CrawlState).known.close()
    assert requested == [f"https://news.example{p}" for p in ARTICLES]
