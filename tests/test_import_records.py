"""`dealwatch import` on real WARC files (written by warcio) into the real node: what is imported, what is
counted, and why.

Specification:
* every response record of an HTML article page becomes the document a crawl would make, with its
  provenance (found_via import, the WARC file and offset) and a raw page the UI can show;
* request/metadata/warcinfo records are skipped; a truncated record, a damaged gzip member, a
  non-HTML payload, a page published before --since are counted with their reason, never a crash,
  and the other records of the file are imported;
* a revisit of the same URL is counted; a revisit of another URL is read from the response it
  repeats;
* importing the same file again (or the same record from another file) updates nothing;
* a file compressed as one gzip stream, and a plain file, give the same documents.
"""

from __future__ import annotations

import gzip
import shutil

import pytest

from crawler.canonical import canonicalize
from import_helpers import (DEMO_SOURCES, WarcBuilder, counts, damage_member, demo_pages, documents, drop,
                            import_settings, run_import, write_pages)
from indexer.archive import Archive
from indexer.schema import article_id

pytestmark = pytest.mark.slow

ARTICLE = ("<p>The payments start-up said on Tuesday that it had signed its first two banks, a regional lender "
           "and a credit union, and that customers would be able to pay from their accounts within weeks. "
           "The company did not say how much the banks would pay for the service or when it expects to break even.</p>")


@pytest.fixture(scope="module")
def pages():
    return demo_pages()[:6]


@pytest.fixture()
def s(settings, tmp_path):
    s = import_settings(settings, tmp_path, "rec", sources_file=DEMO_SOURCES)
    yield s
    drop(s)


def _ids(pages) -> set[str]:
    return {article_id(canonicalize(p.url)) for p in pages}


def test_each_article_page_becomes_a_document_with_its_provenance_and_raw_page(s, pages, tmp_path):
    warc = write_pages(tmp_path / "pages.warc.gz", pages)
    result = run_import(s, "--all", str(warc.path))
    docs = documents(s)
    assert set(docs) == _ids(pages)
    archive = Archive(s)
    for p in pages:
        doc = docs[article_id(canonicalize(p.url))]
        assert doc["title"] == p.title and doc["source"] == p.site
        assert doc["published_at"][:19] == p.published.isoformat()[:19]
        assert doc["found_via"] == ["import"]
        assert doc["import_warc"] == str(warc.path) and doc["import_offset"] == warc.offsets[p.url]
        raw = archive.raw_page(doc)                       # the article page's "raw page" view
        assert raw is not None and raw.body == p.html and raw.url == p.url
    c = counts(s)
    assert c["new"] == len(pages) and c["other_record"] == len(pages) + 1      # requests + warcinfo
    assert "imported 6 (new 6" in result.output


def test_importing_the_same_file_again_or_the_same_records_from_another_file_updates_nothing(s, pages, tmp_path):
    first = write_pages(tmp_path / "a.warc.gz", pages)
    run_import(s, "--all", str(first.path))
    before = documents(s)
    again = run_import(s, "--all", str(first.path))               # a finished file is not read again
    assert "1 finished before" in again.output
    copy = write_pages(tmp_path / "b.warc.gz", pages)             # the same records in another file
    run_import(s, "--all", str(copy.path))
    after = documents(s)
    assert after.keys() == before.keys()
    assert {i: (d["content_hash"], d["version"], d["import_warc"]) for i, d in after.items()} == \
           {i: (d["content_hash"], d["version"], d["import_warc"]) for i, d in before.items()}
    assert counts(s)["unchanged"] == len(pages) and counts(s)["new"] == len(pages)


def test_damaged_truncated_and_non_html_records_are_counted_and_the_rest_is_imported(s, pages, tmp_path):
    b = WarcBuilder(tmp_path / "mixed.warc.gz")
    for p in pages[:3]:
        b.response(p.url, p.html)
    b.response("http://127.0.0.2:8080/2024/01/annual-report.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n",
               content_type="application/pdf")
    b.response("http://127.0.0.2:8080/2024/01/looks-like-a-page/", b"%PDF-1.4\n1 0 obj<<>>endobj\n" * 20)
    b.response("http://127.0.0.2:8080/2024/01/missing/", b"<html>gone</html>", status=404)
    b.response(pages[3].url, pages[3].html[: len(pages[3].html) // 2],
               extra_warc_headers={"WARC-Truncated": "length"})
    damaged = b.response(pages[4].url, pages[4].html)
    b.response(pages[5].url, pages[5].html)
    b.close()
    damage_member(b.path, damaged)
    run_import(s, "--all", str(b.path))
    docs = documents(s)
    assert set(docs) == _ids([pages[0], pages[1], pages[2], pages[5]])
    c = counts(s)
    assert c["not_html"] == 2 and c["http_status"] == 1 and c["truncated"] == 1 and c["bad_gzip"] == 1


def test_a_revisit_of_the_same_url_is_counted_and_one_of_another_url_is_read_from_its_original(s, tmp_path):
    html = f"<html><head><title>Start-up signs two banks</title></head><body><article>{ARTICLE}</article></body></html>"
    b = WarcBuilder(tmp_path / "revisits.warc.gz")
    first = "http://news.example/2024/05/start-up-signs-two-banks"
    other = "http://news.example/2024/05/start-up-signs-two-banks-print"
    b.response(first, html.encode())
    b.revisit(first, of=first)          # the same page captured again, unchanged
    b.revisit(other, of=first)          # another address serving the same bytes
    b.close()
    run_import(s, "--all", str(b.path))
    docs = documents(s)
    assert set(docs) == {article_id(canonicalize(first)), article_id(canonicalize(other))}
    assert docs[article_id(canonicalize(other))]["url"] == other
    assert counts(s)["revisit"] == 1


def test_a_page_published_before_since_is_counted_and_not_imported(s, tmp_path):
    pages = demo_pages()
    warc = write_pages(tmp_path / "dated.warc.gz", pages)
    run_import(s, "--all", "--since", "2025-01-01", str(warc.path))
    recent = [p for p in pages if p.published.year >= 2025]
    assert 0 < len(recent) < len(pages)
    assert set(documents(s)) == _ids(recent)
    assert counts(s)["date"] == len(pages) - len(recent)


def test_domain_and_language_filters(s, tmp_path):
    pages = demo_pages()
    warc = write_pages(tmp_path / "all.warc.gz", pages)
    run_import(s, "--all", "--domain", "127.0.0.3", "--lang", "pl", str(warc.path))
    polish = [p for p in pages if p.url.startswith("http://127.0.0.3:")]
    assert polish and set(documents(s)) == _ids(polish)
    assert counts(s)["domain"] == len(pages) - len(polish)


def test_whole_file_gzip_and_plain_files_give_the_same_documents(s, pages, tmp_path):
    plain = write_pages(tmp_path / "pages.warc", pages, gzip=False).path
    whole = tmp_path / "whole.warc.gz"
    with open(plain, "rb") as src, gzip.open(whole, "wb") as dst:
        shutil.copyfileobj(src, dst)
    run_import(s, "--all", str(plain))
    from_plain = {i: d["content_hash"] for i, d in documents(s).items()}
    drop(s)
    run_import(s, "--all", str(whole))
    from_whole = documents(s)
    assert {i: d["content_hash"] for i, d in from_whole.items()} == from_plain == \
           {article_id(canonicalize(p.url)): from_whole[article_id(canonicalize(p.url))]["content_hash"] for p in pages}
    assert all("import_offset" not in d for d in from_whole.values())    # one gzip stream: no record offsets


def _arc_record(url: str, body: bytes, date: str = "20180806142000") -> bytes:
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    return f"{url} 127.0.0.1 {date} text/html {len(http)}\n".encode() + http + b"\n"


def test_an_arc_file_is_read_too(s, pages, tmp_path):
    """ARC (the Internet Archive's format before WARC), one gzip member per record, read by warcio."""
    version = b"1 0 DealWatch tests\nURL IP-address Archive-date Content-type Archive-length\n\n"
    head = f"filedesc://pages.arc 0.0.0.0 20180806142000 text/plain {len(version)}\n".encode() + version + b"\n"
    arc = tmp_path / "pages.arc.gz"
    arc.write_bytes(gzip.compress(head) + b"".join(gzip.compress(_arc_record(p.url, p.html)) for p in pages[:3]))
    run_import(s, "--all", str(arc))
    docs = documents(s)
    assert set(docs) == _ids(pages[:3])
    assert all(d["import_warc"] == str(arc) and d["import_offset"] > 0 for d in docs.values())
