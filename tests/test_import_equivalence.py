"""Import equals crawl: a `wget --mirror --warc-file` of the demo sites, imported with `--all`, gives the
same documents as crawling the demo sites.

wget is a real third-party WARC writer (WARC/1.0, its own request/response/metadata/resource records,
target URIs in angle brackets). Specification: the same document ids, and per document the same
title, publication date, content hash, canonical URL, source and language.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from crawler.sources import load_sources
from import_helpers import REPO, documents, drop, import_env, import_settings, run_import
from jobs_helpers import serve_demo

pytestmark = pytest.mark.slow

FIELDS = ("title", "published_at", "content_hash", "canonical_url", "source", "lang")


@pytest.fixture(scope="module")
def demo():
    d = serve_demo(edition=1, slow_seconds=1)
    yield d
    d.stop()


def test_a_wget_mirror_imported_with_all_gives_the_documents_of_a_crawl(settings, demo, tmp_path):
    if not shutil.which("wget"):
        pytest.skip("wget is not installed (apt-get install wget)")
    sources = demo.write_sources_file(tmp_path / "sources.yaml")
    crawled = import_settings(settings, tmp_path, "eq-crawl", sources_file=sources, extract_workers=1,
                              autothrottle_start_delay=0.05, retry_backoff=0.2)
    imported = import_settings(settings, tmp_path, "eq-import", sources_file=sources)
    try:
        sites = [s.base_url for s in demo.sites if not s.host.endswith(".9")]   # the dead source has no server
        wget = subprocess.run(["wget", "--mirror", "--no-verbose", "--warc-file", str(tmp_path / "demo"),
                               "--directory-prefix", str(tmp_path / "mirror"), "--timeout", "10", "--tries", "1",
                               *sites], capture_output=True, text=True, timeout=300)
        assert (tmp_path / "demo.warc.gz").stat().st_size > 10_000, wget.stderr[-2000:]

        # the demo's own sites: its news-search source leads to publishers of the search web, which the
        # mirror of the sites does not hold
        site_sources = [src.name for src in load_sources(sources) if src.kind == "site"]
        crawl = subprocess.run([sys.executable, "-m", "dealwatch", "crawl", "--sources-file", str(sources),
                                *site_sources], cwd=REPO,
                               env={**import_env(crawled), "DEALWATCH_EXTRACT_WORKERS": "1",
                                    "DEALWATCH_AUTOTHROTTLE_START_DELAY": "0.05", "DEALWATCH_RETRY_BACKOFF": "0.2"},
                               capture_output=True, text=True, timeout=600)
        by_crawl = documents(crawled)
        assert by_crawl, crawl.stdout[-3000:] + crawl.stderr[-3000:]

        run_import(imported, "--all", str(tmp_path / "demo.warc.gz"))
        by_import = documents(imported)

        assert set(by_import) == set(by_crawl)
        for doc_id, doc in by_crawl.items():
            assert {f: by_import[doc_id].get(f) for f in FIELDS} == {f: doc.get(f) for f in FIELDS}, doc["url"]
    finally:
        drop(crawled)
        drop(imported)
