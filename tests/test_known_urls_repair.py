"""A damaged known-URL store is named, never taken for an empty one, and can be rebuilt.

Specification:
* a store cut to 0 bytes or overwritten with garbage makes the crawl fail at once, before any
  request: the run is ``failed`` and its last error names the file and the repair command;
* ``dealwatch repair known-urls`` keeps the damaged file aside and rebuilds the store from the
  index and the WARC files: the next run fetches no article page again and writes no second
  WARC copy of one, and a page that was archived but not indexed is indexed from its WARC.
"""

from __future__ import annotations

from click.testing import CliRunner

from crawler.cli import repair
from crawler.known_urls import store_path
from crawler.sources import load_sources
from crawler.supervisor import supervise_crawl
from dealwatch.settings import set_settings
from indexer.client import make_client
from indexer.raw_pages import iter_pages
from jobs_helpers import article_paths, indexed_hashes, isolated_settings, serve_demo, write_sources

SITE = "baltic-ledger"


def _warc_records(s) -> int:
    return sum(1 for warc in (s.raw_dir / SITE).glob("*.warc.gz") for _ in iter_pages(s.data_dir, warc))


def test_a_damaged_store_fails_the_run_by_name_and_the_repair_avoids_any_refetch(settings, tmp_path):
    demo = serve_demo()
    try:
        sources_file = write_sources(demo, tmp_path / "sources.yaml", [SITE], time_limit="5m")
        [source] = load_sources(sources_file)
        host = demo.site(SITE).host
        s = isolated_settings(settings, tmp_path, "damaged", extract_workers=1)
        assert supervise_crawl(source, s, sources_file=sources_file).status == "ok"
        es = make_client(s)
        reference = indexed_hashes(es, s, SITE)
        records = _warc_records(s)
        path = store_path(s)

        for damage in (b"", b"this is not a database\n" * 100):
            path.write_bytes(damage)
            demo.clear_requests()
            run = supervise_crawl(source, s, sources_file=sources_file)
            assert run.status == "failed"
            assert str(path) in run.last_error and "dealwatch repair known-urls" in run.last_error, run.last_error
            assert article_paths(demo.requests, host) == []

        # one page archived but not indexed (as after a crash between the WARC and the bulk write)
        lost_id = sorted(reference)[0]
        es.delete(index=s.articles_alias, id=lost_id, refresh=True)

        set_settings(s)
        try:
            answer = CliRunner().invoke(repair, ["known-urls"])
        finally:
            set_settings(settings)
        assert answer.exit_code == 0, answer.output
        assert f"rebuilt {path}: {len(reference) - 1} indexed pages" in answer.output
        assert "1 pages found only in WARC files" in answer.output
        assert list(path.parent.glob(path.name + ".damaged-*")), "the damaged file was not kept aside"

        demo.clear_requests()
        run = supervise_crawl(source, s, sources_file=sources_file)
        assert run.status == "ok", run.last_error
        assert article_paths(demo.requests, host) == [], "article pages fetched again after the repair"
        assert _warc_records(s) == records, "a second WARC copy was written"
        assert indexed_hashes(es, s, SITE) == reference
    finally:
        demo.stop()
