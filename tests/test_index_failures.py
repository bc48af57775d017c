"""Bulk writes refused by the index: counted as failed, kept pending, written and counted once later.

The articles index is write-blocked (``index.blocks.write``) for the first part of a crawl, so
the first bulk writes are refused item by item while the later ones go through.

Specification:
* the run's report and its record in the run history count as ``new`` exactly the documents the
  index holds after the run, and as ``index`` errors the ones it refused, each error naming
  that document's own page;
* the refused pages stay pending (archived, not indexed); the next run indexes them from the
  WARC without fetching them, and counts them as new then: over both runs every article is
  counted new once.
"""

from __future__ import annotations

import threading
import time

from crawler.known_urls import KnownUrls
from crawler.run_report import read_stats_file
from crawler.sources import load_sources
from crawler.supervisor import supervise_crawl
from indexer.archive import Archive
from indexer.client import make_client
from jobs_helpers import article_paths, indexed_hashes, isolated_settings, serve_demo, write_sources

SITE = "baltic-ledger"
REFUSED_BEFORE_LIFT = 3      # the block is lifted once the crawl counted this many refused documents


def _block_writes(s, blocked: bool) -> None:
    make_client(s).indices.put_settings(index=s.articles_alias, settings={"index.blocks.write": blocked})


def test_refused_bulk_items_are_counted_as_failed_and_written_once_by_the_next_run(settings, tmp_path):
    demo = serve_demo(article_delay=1.0)
    try:
        sources_file = write_sources(demo, tmp_path / "sources.yaml", [SITE], time_limit="5m")
        [source] = load_sources(sources_file)
        host = demo.site(SITE).host
        expected = len(demo.site(SITE).visible_articles(1))
        s = isolated_settings(settings, tmp_path, "blocked", extract_workers=1, concurrent_requests_per_domain=1,
                              index_batch_size=3, index_flush_seconds=1)
        _block_writes(s, True)
        lifted = threading.Event()

        def refused_so_far() -> int:
            for stats_file in (s.state_dir / "runs").glob(f"{SITE}-*.json"):
                entry = (read_stats_file(stats_file) or {}).get("sources", {}).get(SITE) or {}
                return int((entry.get("errors") or {}).get("index", 0))
            return 0

        def lift_later() -> None:
            deadline = time.monotonic() + 120
            while refused_so_far() < REFUSED_BEFORE_LIFT and time.monotonic() < deadline:
                time.sleep(0.05)
            _block_writes(s, False)
            print(f"lifted at {refused_so_far()} refused, {len(article_paths(demo.requests, host))} requested")
            lifted.set()

        threading.Thread(target=lift_later, daemon=True).start()
        try:
            first = supervise_crawl(source, s, sources_file=sources_file)
        finally:
            lifted.wait(130)
            _block_writes(s, False)
        stored = len(indexed_hashes(make_client(s), s, SITE))
        known = KnownUrls.from_settings(s)
        pending = known.count(source=SITE, status="fetched")
        known.close()
        print(f"\nblocked: first run {first.status}, articles {first.articles}, errors {first.errors}; "
              f"{stored} stored, {pending} pending")
        assert 0 < stored < expected and pending == expected - stored
        assert first.articles["new"] == stored
        assert first.errors.get("index") == pending
        named = [x["url"] for x in first.error_samples if x["kind"] == "index"]
        assert len(set(named)) == len(named) == min(pending, len(named)) and named, first.error_samples
        [recorded] = Archive(s).last_runs(SITE, 1)
        assert recorded.articles["new"] == stored and recorded.errors.get("index") == pending

        demo.clear_requests()
        second = supervise_crawl(source, s, sources_file=sources_file)
        assert second.status == "ok", second.last_error
        assert article_paths(demo.requests, host) == [], "pending pages were fetched instead of read from the WARC"
        assert len(indexed_hashes(make_client(s), s, SITE)) == expected
        assert second.articles["new"] == pending
        runs = Archive(s).last_runs(SITE, 2)
        assert sum(r.articles["new"] for r in runs) == expected
    finally:
        demo.stop()
