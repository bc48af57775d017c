"""The crawl's last pipeline stage, IndexPipeline, against the real node: what it counts and names.

Specification:
* a batch the archive writes in part counts the written documents as new and the refused ones
  as failed, and reports every refused document as an ``index`` error under its own page URL
  (not the URL of whichever page happened to open the batch);
* the written pages are marked ``indexed`` in the known-URL store; the refused ones are not,
  so the next run takes them up again.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from scrapy.utils.test import get_crawler

from crawler import run_report
from crawler.canonical import url_key
from crawler.extensions import CrawlState, RunReport
from crawler.items import PageItem
from crawler.pipelines import IndexPipeline
from crawler.settings import scrapy_settings
from indexer import schema, store
from indexer.client import make_client
from jobs_helpers import isolated_settings

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def _item(n: int, refused: bool = False) -> PageItem:
    url = f"http://news.example/2026/11/story-{n}"
    article = schema.Article(url=url, canonical_url=url, source="example", domain="news.example",
                             title=f"Story {n}", text=f"Story number {n}: banks and platforms.", lang="en",
                             published_at=NOW)
    doc = schema.article_to_document(article)
    if refused:
        doc["word_count"] = "not a number"   # the strict mapping refuses this document
    return PageItem(source="example", language="en", url=url, keys=[url_key(url)], fetched_at=NOW, doc=doc)


def test_each_refused_document_is_reported_under_its_own_url_and_left_pending(settings, tmp_path):
    s = isolated_settings(settings, tmp_path, "pipe", index_batch_size=100, index_flush_seconds=60.0)
    crawler = get_crawler(settings_dict=scrapy_settings(s, "test-run"))
    items = [_item(1), _item(2, refused=True), _item(3), _item(4, refused=True), _item(5)]
    pipeline = IndexPipeline.from_crawler(crawler)

    async def crawl() -> None:
        pipeline.open_spider()
        for item in items:
            await pipeline.process_item(item)
        await pipeline.close_spider()

    try:
        asyncio.run(crawl())
        counts = crawler.stats.get_stats()
        assert counts[run_report.ARTICLES + "new"] == 3
        assert counts[run_report.ARTICLES + "failed"] == 2
        assert counts[run_report.ERRORS + "index"] == 2
        report = crawler.get_extension(RunReport)
        samples = [x for x in report.samples if x["kind"] == "index"]
        assert sorted(x["url"] for x in samples) == [items[1].url, items[3].url]
        for sample in samples:
            assert "word_count" in sample["message"]
        known = crawler.get_extension(CrawlState).known
        assert known.count(source="example", status="indexed") == 3
        for item in items:
            decision = known.decide(item.keys[0], now=NOW)
            assert decision.fetch is (item.doc["word_count"] == "not a number"), (item.url, decision)
    finally:
        crawler.get_extension(CrawlState).known.close()
        store.drop_all(make_client(s), s)
