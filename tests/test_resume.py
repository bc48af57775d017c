"""Resume after a crash: a crawl killed with SIGKILL in the middle, then the next run.

The demo site is served with slowed article pages and the crawl runs one request at a time,
so the kill lands mid-crawl (after a few article pages). The crawl process and its
extraction workers are killed together (SIGKILL to the process group: a crash, an OOM kill,
a power cut). Then the crawl job runs once more, normally.

Specification:
* the final archive equals a clean, uninterrupted crawl's: the same document ids with the
  same content hashes (nothing lost, nothing duplicated);
* no page durably archived before the kill (a whole record in the killed run's WARC) is
  fetched again by the resumed run: it is indexed from the WARC;
* only pages in flight at the kill (requested, not yet archived) may be fetched again, and with
  one request at a time there are at most ``MAX_IN_FLIGHT`` of them: the download in progress
  and the page being written (the reactor is never blocked, so fetched pages do not pile up
  before the archive).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest

from crawler.supervisor import settings_environment, supervise_crawl
from demo_sites import ARTICLE_PATH
from crawler.sources import load_sources
from indexer import store
from indexer.client import make_client
from indexer.raw_pages import iter_pages
from jobs_helpers import article_paths, indexed_hashes, isolated_settings, slow_demo_sites, write_sources

SITE = "baltic-ledger"
ARTICLE_DELAY_S = 0.5
KILL_AFTER_ARTICLES = 8
MAX_IN_FLIGHT = 2


def archived_paths(settings) -> set[str]:
    """The article paths with a whole record in the source's WARC files (a damaged tail is where a kill cut)."""
    paths: set[str] = set()
    for warc in sorted((settings.raw_dir / SITE).glob("*.warc.gz")):
        try:
            for page in iter_pages(settings.data_dir, warc):
                paths.add(urlsplit(page.url).path)
        except Exception:  # noqa: BLE001 - the record the kill cut short: everything before it counts
            pass
    return {p for p in paths if ARTICLE_PATH.match(p)}


@pytest.fixture(scope="module")
def slow_demo():
    """The demo sites with every article page answered after ARTICLE_DELAY_S."""
    with slow_demo_sites(ARTICLE_DELAY_S) as demo:
        yield demo


def test_a_crawl_killed_mid_run_resumes_to_the_same_archive_without_refetching(settings, slow_demo, tmp_path):
    demo = slow_demo
    sources_file = write_sources(demo, tmp_path / "sources.yaml", [SITE], time_limit="5m")
    [source] = load_sources(sources_file)
    host = demo.site(SITE).host
    clean = isolated_settings(settings, tmp_path, "clean", extract_workers=1)
    crashy = isolated_settings(settings, tmp_path, "crash", extract_workers=1, concurrent_requests_per_domain=1)
    try:
        # the reference: one uninterrupted crawl
        assert supervise_crawl(source, clean, sources_file=sources_file).status == "ok"
        reference = indexed_hashes(make_client(clean), clean, SITE)
        assert len(reference) == len(demo.site(SITE).visible_articles(1))

        # a crawl killed with SIGKILL after KILL_AFTER_ARTICLES article pages
        demo.clear_requests()
        stats = tmp_path / "killed.json"
        log = open(tmp_path / "killed.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "crawler.crawl_process", "--sources", SITE, "--sources-file",
                                 str(sources_file), "--stats-file", str(stats), "--run-id", "killed"],
                                env=settings_environment(crashy), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + 120
        while len(article_paths(demo.requests, host)) < KILL_AFTER_ARTICLES:
            assert proc.poll() is None, f"the crawl ended before it could be killed (see {log.name})"
            assert time.monotonic() < deadline, "the crawl did not reach the article pages in time"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
        time.sleep(2 * ARTICLE_DELAY_S + 0.5)  # the demo logs a request once answered: the one in flight too
        killed_requests = demo.requests
        killed_articles = article_paths(killed_requests, host)
        assert len(killed_articles) < len(reference), "the kill came too late to interrupt the crawl"
        indexed_at_kill = len(indexed_hashes(make_client(crashy), crashy, SITE))
        archived_at_kill = archived_paths(crashy)
        in_flight = set(killed_articles) - archived_at_kill

        # the next run of the same job
        demo.clear_requests()
        resumed = supervise_crawl(source, crashy, sources_file=sources_file)
        resumed_articles = article_paths(demo.requests, host)
        final = indexed_hashes(make_client(crashy), crashy, SITE)
        both = Counter(killed_articles + resumed_articles)
        print(f"\nresume: killed run {len(killed_requests)} requests, {len(killed_articles)} article pages, "
              f"{len(archived_at_kill)} archived and {indexed_at_kill} indexed at the kill, {len(in_flight)} in flight; "
              f"resumed run {len(demo.requests)} requests, {len(resumed_articles)} article pages; article pages "
              f"fetched twice: {sum(1 for c in both.values() if c > 1)}; clean crawl {len(reference)} articles")
        assert resumed.status == "ok", resumed.last_error
        assert final == reference
        assert archived_at_kill, "nothing was archived before the kill"
        assert sorted(archived_at_kill & set(resumed_articles)) == [], "archived pages fetched again"
        assert {p for p, c in both.items() if c > 1} <= in_flight
        assert len(in_flight) <= MAX_IN_FLIGHT, f"pages fetched but not archived at the kill: {sorted(in_flight)}"
        assert len(both) == len(reference)
    finally:
        for s in (clean, crashy):
            store.drop_all(make_client(s), s)
