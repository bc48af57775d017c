"""`dealwatch import --cc-news` against a local HTTP server laid out like Common Crawl's CC-NEWS, and
WARC files read from URLs as streams.

Specification:
* ``--cc-news 2018-08..2018-09`` reads each month's ``warc.paths.gz`` under the setting
  ``cc_news_base_url`` and imports every file it lists, read as a stream;
* the checkpoints name the files by their CC-NEWS path, not by the mirror they came from;
* a stream cut in the middle of a file is reopened with an HTTP Range request at the record where
  it broke: every article is imported once, and the file is not downloaded again from its start.
"""

from __future__ import annotations

import gzip

import pytest

from crawler.canonical import canonicalize
from import_helpers import (DEMO_SOURCES, WarcServer, checkpoints, demo_pages, documents, drop, import_settings,
                            run_import, write_pages)
from indexer.schema import article_id

pytestmark = pytest.mark.slow


def _month(root, year_month: str, files: dict[str, list]) -> list[str]:
    folder = root / "crawl-data" / "CC-NEWS" / year_month.replace("-", "/")
    folder.mkdir(parents=True)
    paths = []
    for name, pages in files.items():
        write_pages(folder / name, pages)
        paths.append(f"crawl-data/CC-NEWS/{year_month.replace('-', '/')}/{name}")
    (folder / "warc.paths.gz").write_bytes(gzip.compress(("\n".join(paths) + "\n").encode()))
    return paths


def _record_offsets(path) -> set[int]:
    """Where each record of a file starts (read by warcio, the other library)."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        out = set()
        for _ in it:
            out.add(it.get_record_offset())
        return out


def test_cc_news_months_are_read_from_their_listings_as_streams(settings, tmp_path):
    pages = demo_pages()[:12]
    root = tmp_path / "mirror"
    paths = _month(root, "2018-08", {"CC-NEWS-20180801000000-00000.warc.gz": pages[:5],
                                     "CC-NEWS-20180815000000-00001.warc.gz": pages[5:9]})
    paths += _month(root, "2018-09", {"CC-NEWS-20180901000000-00002.warc.gz": pages[9:]})
    with WarcServer(root) as server:
        s = import_settings(settings, tmp_path, "ccnews", sources_file=DEMO_SOURCES,
                            cc_news_base_url=server.base_url)
        try:
            result = run_import(s, "--all", "--cc-news", "2018-08..2018-09")
            assert "3 file(s)" in result.output
            assert set(documents(s)) == {article_id(canonicalize(p.url)) for p in pages}
            assert sorted(cp["file"] for cp in checkpoints(s)) == sorted(f"cc-news:{p}" for p in paths)
            assert all(cp["status"] == "done" for cp in checkpoints(s))
            listed = [p for p, _ in server.requests if p.endswith("warc.paths.gz")]
            assert listed == ["/crawl-data/CC-NEWS/2018/08/warc.paths.gz", "/crawl-data/CC-NEWS/2018/09/warc.paths.gz"]
        finally:
            drop(s)


def test_a_stream_cut_mid_file_is_resumed_with_a_range_request_where_it_broke(settings, tmp_path):
    pages = demo_pages()         # about 170 KB: the reader has records in hand when the stream breaks
    root = tmp_path / "files"
    root.mkdir()
    warc = write_pages(root / "big.warc.gz", pages)
    cut = warc.path.stat().st_size * 2 // 3
    with WarcServer(root) as server:
        server.cut_first("big.warc.gz", after_bytes=cut)
        s = import_settings(settings, tmp_path, "cut", sources_file=DEMO_SOURCES)
        try:
            run_import(s, "--all", f"{server.base_url}/big.warc.gz")
            assert set(documents(s)) == {article_id(canonicalize(p.url)) for p in pages}
            got = [rng for path, rng in server.requests if path == "/big.warc.gz"]
            assert len(got) == 2 and got[0] == ""
            resumed_at = int(got[1].removeprefix("bytes=").rstrip("-"))
            # the stream was reopened at the start of a record read before the break, not at 0
            assert resumed_at in _record_offsets(warc.path) and 0 < resumed_at < cut
            [cp] = checkpoints(s)
            assert cp["status"] == "done" and cp["file"] == f"{server.base_url}/big.warc.gz"
        finally:
            drop(s)
