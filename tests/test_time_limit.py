"""A run's time limit, with the real crawler against a slowed demo site.

Specification:
* a source without a ``time_limit`` of its own (nor in the file's defaults) is limited by the
  ``crawl_time_limit`` setting: the crawl process closes its spider at that limit by itself
  (finish reason ``closespider_timeout``, exit code 0) and the run is recorded ``timed_out``,
  long before the site could have been crawled whole.
"""

from __future__ import annotations

from crawler.sources import load_sources
from crawler.supervisor import supervise_crawl
from indexer import store
from indexer.client import make_client
from jobs_helpers import article_paths, isolated_settings, slow_demo_sites, write_sources

SITE = "baltic-ledger"


def test_a_source_without_a_time_limit_is_closed_at_the_crawl_time_limit_setting(settings, tmp_path):
    with slow_demo_sites(0.5) as demo:
        s = isolated_settings(settings, tmp_path, "limit", extract_workers=1, concurrent_requests_per_domain=1,
                              crawl_time_limit=4.0, crawl_stop_grace=60.0)
        sources_file = write_sources(demo, tmp_path / "sources.yaml", [SITE])
        [source] = load_sources(sources_file)
        assert source.time_limit is None
        try:
            record = supervise_crawl(source, s, sources_file=sources_file, record=False)
            fetched = article_paths(demo.requests, demo.site(SITE).host)
        finally:
            store.drop_all(make_client(s), s)
    assert record.finish_reason == "closespider_timeout", record.last_error
    assert record.exit_code == 0 and record.status == "timed_out"
    assert "time limit of 4s" in record.last_error
    assert len(fetched) < len(demo.site(SITE).visible_articles(1))      # stopped part-way
