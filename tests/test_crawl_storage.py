"""The raw-pages folder on a full filesystem: the run says so and loses nothing.

A real small filesystem (a tmpfs of a few hundred KB mounted on the raw-pages folder; the
test needs root and is skipped without it) fills up in the middle of a crawl of a demo site.

Specification:
* the run is not "ok": the crawl of the source stops with finish reason ``storage_error``,
  the crawl process exits with code 3 and the recorded run is ``failed``, its last error
  naming the raw-pages folder and the system's reason ("No space left on device");
* the pages that did not fit are counted (``errors.storage``) and not marked as known, so
  the next run (with room again) fetches them, and the archive ends complete;
* every page the known-URL store holds as archived can be read back from its WARC record.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from crawler.known_urls import KnownUrls
from crawler.sources import load_sources
from crawler.supervisor import supervise_crawl
from indexer.client import make_client
from indexer.raw_pages import read_record
from jobs_helpers import indexed_hashes, isolated_settings, serve_demo, write_sources

SITE = "baltic-ledger"
ROOM_BYTES = 40 * 1024     # what is left free on the small filesystem for the WARC


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here (needs root): {done.stderr.strip()}")


@pytest.fixture()
def small_raw_dir(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    raw = tmp_path / "data-full" / "raw"
    _mount_tmpfs(raw, "1m")
    try:
        stat = os.statvfs(raw)
        free = stat.f_bavail * stat.f_frsize
        (raw / "filler").write_bytes(b"\0" * (free - ROOM_BYTES))
        yield raw
    finally:
        subprocess.run(["umount", "-l", str(raw)], check=False)


def _archived_pages_read_back(s) -> int:
    known = KnownUrls.from_settings(s)
    try:
        rows = known._db.execute("SELECT url, warc, warc_offset FROM pages WHERE status IN ('fetched', 'indexed')"
                                 " AND warc IS NOT NULL").fetchall()
    finally:
        known.close()
    for url, warc, offset in rows:
        assert read_record(s.data_dir, warc, offset).url == url
    return len(rows)


def test_a_full_raw_pages_filesystem_fails_the_run_and_the_next_run_fetches_what_was_lost(settings, tmp_path,
                                                                                          small_raw_dir):
    demo = serve_demo()
    try:
        sources_file = write_sources(demo, tmp_path / "sources.yaml", [SITE], time_limit="5m")
        [source] = load_sources(sources_file)
        expected = len(demo.site(SITE).visible_articles(1))
        s = isolated_settings(settings, tmp_path, "full", extract_workers=1)
        assert s.raw_dir == small_raw_dir

        first = supervise_crawl(source, s, sources_file=sources_file)
        print(f"\nfull disk: {first.status} exit {first.exit_code} {first.finish_reason}; errors {first.errors}; "
              f"articles {first.articles}; {first.last_error}")
        assert first.status == "failed"
        assert first.exit_code == 3
        assert first.finish_reason == "storage_error"
        assert first.errors.get("storage", 0) >= 1
        assert "No space left on device" in first.last_error
        assert str(small_raw_dir) in first.last_error
        archived = _archived_pages_read_back(s)
        stored = len(indexed_hashes(make_client(s), s, SITE))
        assert stored < expected, "the filesystem did not fill up during the crawl"

        (small_raw_dir / "filler").unlink()   # room again
        second = supervise_crawl(source, s, sources_file=sources_file)
        assert second.status == "ok", second.last_error
        assert len(indexed_hashes(make_client(s), s, SITE)) == expected
        assert _archived_pages_read_back(s) >= expected
        assert second.articles["new"] + first.articles["new"] == expected, (first.articles, second.articles, archived)
    finally:
        demo.stop()
