"""Exports: every match, streamed page by page, the same rows from the web, the API and the CLI."""

from __future__ import annotations

import csv
import html
import io
import json

import pytest
from click.testing import CliRunner

import search_archive as sa
from dealwatch.cli import main as cli
from indexer import export, store
from indexer.archive import Archive
from indexer.query import RelevanceBands, SearchParams


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


@pytest.mark.parametrize("params", [
    {"q": "citigroup", "relevant": "0"},
    {"q": "facebook"},
    {},
    {"relevant": "0"},
    {"q": "bank OR amazon", "lang": "en", "from": "2024-01-01"},
    {"relevance": "possible"},
    {"relevance": "all", "source": "review-en"},
])
def test_csv_export_has_exactly_the_search_total(client, params):
    total = client.get("/api/search", params=params).json()["total"]
    r = client.get("/export.csv", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = csv_rows(r.text)
    assert len(rows) == total == int(r.headers["X-Total-Count"])
    assert list(rows[0].keys()) == list(export.COLUMNS) if rows else True


def test_export_ignores_page_and_collapsing(client, archive):
    # the near-duplicate pair is one hit on the page but two rows in the export
    page = client.get("/api/search", params={"q": "jpmorgan", "size": "1"}).json()
    assert len(page["hits"]) == 1 and page["total"] == 2
    rows = csv_rows(client.get("/export.csv", params={"q": "jpmorgan", "size": "1", "page": "2"}).text)
    assert {r["url"] for r in rows} == {sa.BY_KEY["fb-banks"].url, sa.BY_KEY["fb-banks-wire"].url}


def test_rows_are_newest_first_with_the_documented_columns(client):
    rows = csv_rows(client.get("/export.csv", params={"relevant": "0", "q": "citigroup"}).text)
    dated = [r["published_at"] for r in rows if r["published_at"]]
    assert dated == sorted(dated, reverse=True) and rows[-1]["published_at"] == ""
    first = rows[0]
    assert first["title"] == sa.BY_KEY["fb-banks-wire"].title and first["source"] == "wire-en"
    assert first["entities"] == "Facebook; JPMorgan Chase; Citigroup" and first["lang"] == "en"
    assert first["relevance"] == "0.900" and first["cluster_id"] == "c-fb" and first["author"] == "Wire Desk"
    assert first["relevance_band"] == "relevant" and first["evidence"] == sa.evidence_of(sa.BY_KEY["fb-banks-wire"])
    assert "Citigroup" in first["snippet"]


def test_the_export_names_each_rows_band_and_its_evidence(client):
    rows = csv_rows(client.get("/export.csv", params={"relevance": "possible"}).text)
    assert sorted(r["url"] for r in rows) == sorted(sa.BY_KEY[k].url for k in sa.POSSIBLE)
    assert {r["relevance_band"] for r in rows} == {"possible"}
    by_url = {a.url: a for a in sa.ARTICLES}
    assert all(r["evidence"] == sa.evidence_of(by_url[r["url"]]) for r in rows)
    everything = csv_rows(client.get("/export.csv", params={"relevance": "all"}).text)
    assert {r["url"]: r["relevance_band"] for r in everything} == {a.url: sa.band_of(a) for a in sa.ARTICLES}
    assert {r["url"]: r["relevance"] for r in everything if r["relevance_band"] == "possible"} == {
        sa.BY_KEY["apple-savings"].url: "0.420", sa.BY_KEY["wallet-loyalty"].url: "0.300"}


def test_evidence_sentences_share_one_cell(es, settings, archive):
    doc = sa.document_for(sa.TestArticle("two-lines", "Two sentences of evidence", "First - line.\nSecond line.",
                                         "review-en", "en", sa._d(2024, 9, 1), [], relevant=False, score=0.4,
                                         cluster="c-two"), settings)
    doc["relevance_evidence"] = ["-First line.", "Second line."]
    store.write_documents(es, settings, [doc], refresh="wait_for")
    try:
        params = SearchParams(q="title:sentences", relevance="possible")
        (row,) = list(export.rows(Archive(settings), params))
        assert row["evidence"] == "-First line. | Second line." and row["relevance_band"] == "possible"
        text = "".join(export.csv_chunks(Archive(settings), params))
        assert csv_rows(text)[0]["evidence"] == "'-First line. | Second line."    # no formula in a spreadsheet
        (obj,) = [json.loads(line) for line in "".join(export.jsonl_chunks(Archive(settings), params)).splitlines()]
        assert obj["evidence"] == ["-First line.", "Second line."] and obj["relevance_band"] == "possible"
    finally:
        es.delete(index=settings.articles_alias, id=doc["id"], refresh="wait_for")


def test_formula_cells_are_neutralised(client):
    rows = csv_rows(client.get("/export.csv", params={"q": "formula"}).text)
    (row,) = rows
    assert row["title"].startswith("'=HYPERLINK(")
    assert row["author"] == "'@attacker"
    assert row["snippet"].startswith("'-2+3")
    for cell in row.values():
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_bom_only_when_asked(client):
    assert client.get("/export.csv", params={"bom": "1"}).content.startswith(b"\xef\xbb\xbfpublished_at,")
    assert client.get("/export.csv").content.startswith(b"published_at,")


def test_json_lines_export(client, archive):
    params = {"relevant": "0"}
    total = client.get("/api/search", params=params).json()["total"]
    lines = client.get("/export.jsonl", params=params).text.splitlines()
    objs = [json.loads(line) for line in lines]
    assert len(objs) == total == len(sa.ARTICLES)
    assert {o["id"] for o in objs} == set(archive.values())
    hostile = next(o for o in objs if o["id"] == archive["hostile"])
    assert hostile["entities"] == ["Facebook"] and hostile["author"] == ["<i>Evil</i>"]
    apple = next(o for o in objs if o["id"] == archive["apple-savings"])
    assert apple["relevance_band"] == "possible" and apple["relevance"] == 0.42
    assert apple["evidence"] == [sa.evidence_of(sa.BY_KEY["apple-savings"])]


def test_malformed_export_query_is_a_400(client):
    r = client.get("/export.csv", params={"q": "(unbalanced"})
    assert r.status_code == 400 and "never closed" in r.text  # an error page for the person who clicked
    r = client.get("/export.jsonl", params={"q": "(unbalanced"})
    assert r.status_code == 400 and "never closed" in r.json()["error"]["message"]


def test_scan_pages_through_a_point_in_time(es, settings, archive):
    # tiny pages: every match comes exactly once across many search_after pages
    params = SearchParams(relevant_only=False)
    ids = [h["_id"] for h in export.scan(Archive(settings), params, page_size=3)]
    assert len(ids) == len(set(ids)) == Archive(settings).count_matching(params)


def test_the_header_leaves_before_the_archive_is_read(settings):
    # constant-memory streaming: nothing is fetched until the consumer asks for rows
    unreachable = Archive(settings.replace(es_url="http://127.0.0.1:9"))
    chunks = export.csv_chunks(unreachable, SearchParams())
    assert next(chunks).startswith("published_at,title,source,url")


def test_cli_export_writes_the_same_rows(client, tmp_path):
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(cli, ["export", "bank", "--lang", "en", "--all", "-o", str(out)])
    assert res.exit_code == 0, res.output
    web = client.get("/export.csv", params={"q": "bank", "lang": "en", "relevant": "0"}).text
    with open(out, encoding="utf-8", newline="") as fh:
        assert fh.read() == web
    assert f"{len(csv_rows(web))} rows written" in res.output


def test_cli_export_of_the_possible_band_writes_the_same_rows(client, tmp_path):
    out = tmp_path / "possible.csv"
    res = CliRunner().invoke(cli, ["export", "--relevance", "possible", "-o", str(out)])
    assert res.exit_code == 0, res.output
    web = client.get("/export.csv", params={"relevance": "possible"}).text
    with open(out, encoding="utf-8", newline="") as fh:
        assert fh.read() == web
    assert "2 rows written" in res.output


def test_cli_search_of_the_possible_band_shows_why(archive):
    res = CliRunner().invoke(cli, ["search", "--relevance", "possible"])
    assert res.exit_code == 0, res.output
    assert "2 possibly relevant articles found" in res.output
    assert "possibly relevant (topic score 0.42), because:" in res.output
    assert f"» {sa.evidence_of(sa.BY_KEY['apple-savings'])}" in res.output
    assert sa.BY_KEY["card-stats"].url not in res.output
    for every in (["--relevance", "all"], ["--all"]):
        assert "3 articles found" in CliRunner().invoke(cli, ["search", *every, "--source", "review-en"]).output
    both = CliRunner().invoke(cli, ["search", "--all", "--relevance", "possible"])
    assert both.exit_code == 2 and "--all and --relevance possible contradict each other" in both.output
    none = CliRunner().invoke(cli, ["search", "lumo", "--source", "review-en"])
    assert "0 relevant articles found" in none.output and "--relevance possible" in none.output


def test_cli_search_prints_hits_and_total(archive):
    res = CliRunner().invoke(cli, ["search", "citigroup", "--all", "-n", "2"])
    assert res.exit_code == 0, res.output
    assert "4 articles found (showing 2)" in res.output
    assert sa.BY_KEY["undated"].url in res.output  # best match first: "Citigroup" in its title
    assert "[Citigroup]" in res.output             # the snippet marks the word
    bad = CliRunner().invoke(cli, ["search", "a AND"])
    assert bad.exit_code == 2 and "needs a word after it" in bad.output


def test_cli_export_without_an_index_says_so_and_leaves_no_file(settings, tmp_path):
    from dealwatch.settings import set_settings
    out = tmp_path / "none.csv"
    set_settings(settings.replace(index_prefix=settings.index_prefix + "missing-"))
    try:
        res = CliRunner().invoke(cli, ["export", "bank", "-o", str(out)])
    finally:
        set_settings(settings)
    assert res.exit_code == 2 and "no articles index" in res.output
    assert not out.exists()


# --- choosing the columns (fields=) ------------------------------------------------------------

def test_fields_choose_and_order_the_columns_and_the_full_text_reads_back(client, archive):
    r = client.get("/export.csv", params={"q": "citigroup", "relevance": "all", "fields": "title,text,evidence"})
    assert r.status_code == 200
    rows = csv_rows(r.text)
    assert list(rows[0].keys()) == ["title", "text", "evidence"]
    by_title = {a.title: a for a in sa.ARTICLES}
    fb = next(row for row in rows if row["title"] == sa.BY_KEY["fb-banks"].title)
    assert fb["text"] == sa.BY_KEY["fb-banks"].text and "\n" in fb["text"]    # paragraphs kept, quoted by csv
    assert fb["evidence"] == sa.evidence_of(sa.BY_KEY["fb-banks"])
    assert all(row["text"] == by_title[row["title"]].text for row in rows if not row["title"].startswith("'"))
    # repeated fields= work too, in the order given
    again = csv_rows(client.get("/export.csv", params=[("q", "citigroup"), ("relevance", "all"), ("fields", "text"),
                                                        ("fields", "title")]).text)
    assert list(again[0].keys()) == ["text", "title"] and len(again) == len(rows)


def test_every_field_is_exported_and_absent_values_are_empty(client, archive):
    r = client.get("/export.csv", params={"q": "title:report", "fields": ",".join(export.EXPORT_FIELDS)})
    (row,) = csv_rows(r.text)
    a = sa.BY_KEY["fb-banks-wire"]
    assert list(row.keys()) == list(export.EXPORT_FIELDS)
    assert row["id"] == archive["fb-banks-wire"] and row["domain"] == "wire-en.test" and row["version"] == "1"
    assert row["word_count"] == str(len(a.text.split())) and row["text"] == a.text
    assert row["entity_ids"] == "fb; jpm; citi" and row["entities"] == "Facebook; JPMorgan Chase; Citigroup"
    assert row["canonical_url"] == a.url and row["crawled_at"].startswith("2024-07-01")
    assert row["found_via"] == "" and row["site_name"] == ""        # not recorded for this article


def test_found_via_is_read_from_the_document_as_it_is_stored():
    bands = RelevanceBands(0.5, 0.3)
    found_via = export.BY_NAME["found_via"]
    assert found_via.cell({"found_via": "news-search"}, bands) == "news-search"
    assert found_via.cell({"found_via": ["feed", "sitemap"]}, bands) == "feed; sitemap"
    assert found_via.value({"found_via": ["feed", "sitemap"]}, bands) == ["feed", "sitemap"]
    assert found_via.cell({}, bands) == "" and found_via.value({}, bands) == []


def test_json_lines_hold_the_chosen_fields_with_their_types(client, archive):
    lines = client.get("/export.jsonl", params={"q": "title:report", "fields": "id,word_count,entity_ids,text"})
    (obj,) = [json.loads(line) for line in lines.text.splitlines()]
    assert list(obj) == ["id", "word_count", "entity_ids", "text"]
    assert obj["id"] == archive["fb-banks-wire"] and obj["entity_ids"] == ["fb", "jpm", "citi"]
    assert obj["word_count"] == len(sa.BY_KEY["fb-banks-wire"].text.split())
    default = json.loads(client.get("/export.jsonl", params={"q": "title:report"}).text.splitlines()[0])
    assert list(default) == ["id", *export.COLUMNS]                     # unchanged without fields=


@pytest.mark.parametrize("path", ["/export.csv", "/export.jsonl"])
def test_an_unknown_field_is_a_400_that_lists_the_fields(client, path):
    r = client.get(path, params={"fields": "title,txt"})
    assert r.status_code == 400
    message = r.json()["error"]["message"] if path.endswith("jsonl") else html.unescape(r.text)
    assert "Unknown export field 'txt' (did you mean text?): the fields are published_at, title," in message
    assert "found_via" in message and "word_count" in message


def test_only_the_stored_fields_the_columns_need_are_read():
    assert export.reads(["title", "evidence"]) == ["id", "title", "relevance_evidence"]
    assert "text" in export.reads(["snippet"]) and "text" not in export.reads(export.COLUMNS[:5])


def test_cli_export_with_fields_writes_the_same_rows(client, tmp_path):
    out = tmp_path / "texts.csv"
    res = CliRunner().invoke(cli, ["export", "citigroup", "--all", "--fields", "title,text,evidence", "-o", str(out)])
    assert res.exit_code == 0, res.output
    web = client.get("/export.csv", params={"q": "citigroup", "relevance": "all", "fields": "title,text,evidence"})
    with open(out, encoding="utf-8", newline="") as fh:
        assert fh.read() == web.text
    bad = CliRunner().invoke(cli, ["export", "--fields", "titel"])
    assert bad.exit_code == 2 and "did you mean title?" in bad.output


def test_the_attention_series_as_csv(client, archive):
    r = client.get("/histogram.csv", params=[("q", "citigroup"), ("compare", "amazon"), ("relevance", "all")])
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["interval_start", "interval_end", "all_archived", "citigroup: articles", "citigroup: share",
                       "amazon: articles", "amazon: share"]
    api = client.get("/api/histogram", params=[("q", "citigroup"), ("compare", "amazon"), ("relevance", "all")]).json()
    assert [int(r[3]) for r in rows[1:]] == api["series"][0]["counts"]
    assert [int(r[5]) for r in rows[1:]] == api["series"][1]["counts"]
    assert sum(int(r[2]) for r in rows[1:]) == sum(b["archived"] for b in api["buckets"])
