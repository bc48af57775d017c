"""Hostile searches: what costs the archive seconds or breaks a page is refused or answered, never a 500 or
an Elasticsearch error passed through (filter values, dates at the calendar's end, a stored date beyond
it, nesting, long ids and prefixes, huge queries)."""

from __future__ import annotations

import re
import time

import pytest

import search_archive as sa
from indexer.archive import Archive
from indexer.errors import BadQuery
from indexer.query import SearchParams
from indexer.query.language import MAX_DEPTH, MAX_TERMS, QuerySyntaxError, depth, parse_query
from search_ui.pages import FacetLinks

FACET_PATHS = ["/", "/api/search", "/api/histogram", "/feed.atom", "/export.csv", "/export.jsonl", "/histogram.csv"]


def _message(r) -> str:
    if r.headers["content-type"].startswith("application/json"):
        return r.json()["error"]["message"]
    found = re.search(r'(?:class="error"[^>]*>|id="query-error"[^>]*>)(.*?)</', r.text, re.S)
    return found.group(1) if found else r.text


# --- C12: many filter values ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["lang", "source", "type", "entity"])
@pytest.mark.parametrize("path", FACET_PATHS)
def test_more_filter_values_than_the_setting_allows_are_refused_at_once(client, name, path):
    values = ",".join(f"v{i}" for i in range(101))        # ui_max_filter_values is 100
    started = time.process_time()
    r = client.get(path, params={name: values})
    assert r.status_code == 400, r.text[:300]
    assert f"At most 100 values of {name}= can be given at once (101 were)" in _message(r)
    assert time.process_time() - started < 5               # generous: the answer is a message, not a search


def test_the_filter_links_of_many_chosen_values_are_each_one_url(client, archive):
    langs = [f"l{i}" for i in range(100)]
    r = client.get("/", params=[("q", "bank"), ("relevance", "all"), *(("lang", v) for v in langs)])
    assert r.status_code == 200
    links = re.findall(r'<a href="([^"]*)" class="selected" data-value="l\d+"', r.text)
    assert len(links) == 100                               # every chosen value shows, to be taken off
    one = links[0].replace("&amp;", "&")
    assert one.startswith("/?q=bank&lang=l") and one.count("lang=") == 99


@pytest.mark.parametrize("chosen", [(), ("en",), ("en", "pl")])
def test_filter_links_add_or_remove_one_value_in_the_order_urls_are_written(chosen):
    params = SearchParams.parse({"q": "bank", "lang": list(chosen), "source": ["a"], "from": "2024-01-01",
                                 "page": "3", "relevance": "all"})
    links = FacetLinks(params)
    for lang in ("en", "pl", "de"):
        toggled = tuple(v for v in chosen if v != lang) if lang in chosen else (*chosen, lang)
        expected = "/?" + "&".join(f"{k}={v}" for k, v in params.to_url(langs=toggled, page=1))
        assert links.toggle("lang", lang) == expected
    assert links.toggle("entity", "fb") == "/?" + "&".join(
        f"{k}={v}" for k, v in params.to_url(entities=("fb",), page=1))


# --- C14: dates at the end of the calendar ----------------------------------------------------

@pytest.mark.parametrize("path", FACET_PATHS)
@pytest.mark.parametrize("dates", [{"to": "9999-12-31"}, {"from": "0001-01-01", "to": "9999-12-31"},
                                   {"from": "9999-12-31"}])
def test_dates_at_the_end_of_the_calendar_are_answered(client, archive, path, dates):
    r = client.get(path, params={**dates, "relevance": "all"})
    assert r.status_code == 200, _message(r)


def test_the_last_day_of_the_calendar_includes_its_whole_day(client, archive):
    everything = client.get("/api/search", params={"relevance": "all"}).json()["total"]
    dated = everything - 1                                   # one test article has no date
    assert client.get("/api/search", params={"relevance": "all", "to": "9999-12-31"}).json()["total"] == dated
    # "to" is the whole day: an article published at 09:30 on its day is in
    day = client.get("/api/search", params={"relevance": "all", "from": "2024-05-01", "to": "2024-05-01"}).json()
    assert [h["id"] for h in day["hits"]] == [archive["fb-banks"]]


def test_a_chart_up_to_the_calendars_end_spans_the_archive_not_eight_thousand_years(client, archive):
    body = client.get("/api/histogram", params={"relevance": "all", "to": "9999-12-31"}).json()
    assert body["interval"] == "week" and len(body["buckets"]) < 60
    assert body["buckets"][-1]["end"] <= "2024-09-02"


@pytest.fixture()
def far_future(es, settings, archive):
    """One stored article dated in the year 10000: epoch milliseconds, as another tool may write them."""
    a = sa.TestArticle("far-future", "Far future Citigroup note", "Citigroup customers in the year 10000.",
                       "news-en", "en", None, [sa.CITI], cluster="c-far")
    doc = sa.document_for(a, settings)
    doc["published_at"] = 253402300800000
    es.index(index=settings.articles_alias, id=doc["id"], document=doc, refresh="wait_for")
    yield doc
    es.delete(index=settings.articles_alias, id=doc["id"], refresh="wait_for")


@pytest.mark.parametrize("path", [*FACET_PATHS, "/entities/citi", "/api/entities/citi", "/sources", "/api/sources"])
def test_one_document_dated_in_the_year_10000_breaks_nothing(client, far_future, path):
    r = client.get(path, params={"q": "citigroup", "relevance": "all"} if "entities" not in path else {})
    assert r.status_code == 200, _message(r)


def test_a_date_beyond_the_calendar_is_shown_as_stored_and_left_off_the_chart(client, far_future):
    hit = next(h for h in client.get("/api/search", params={"q": "citigroup", "relevance": "all",
                                                             "sort": "newest"}).json()["hits"]
               if h["id"] == far_future["id"])
    assert hit["published_at"] == "253402300800000"
    assert client.get(f"/articles/{far_future['id']}").status_code == 200
    chart = client.get("/api/histogram", params={"q": "citigroup", "relevance": "all"}).json()
    assert chart["series"][0]["total"] == 3            # the 4 dated Citigroup articles but this one
    assert chart["buckets"][-1]["start"] < "2025"


# --- C15: validate first: nesting, long ids, prefixes, huge queries ---------------------------

def _nested(levels: int) -> str:
    """``a0 (b0 OR (a1 (b1 OR …)))``: an AND and an OR for each level."""
    q = "z"
    for i in reversed(range(levels)):
        q = f"a{i} (b{i} OR ({q}))"
    return q


def test_nesting_is_counted_in_the_levels_elasticsearch_runs():
    assert depth(parse_query(_nested(3))) == 6
    assert depth(parse_query("((((((bank))))))")) == 0       # brackets alone add nothing
    assert depth(parse_query("a (b c) (d (e f))")) == 1        # nested ANDs are one AND
    assert depth(parse_query("a OR (b OR (c OR d))")) == 1


@pytest.mark.parametrize("levels", [MAX_DEPTH // 2 + 1, 13, 20, 25])
def test_deeper_nesting_than_elasticsearch_runs_is_a_400_that_says_so(client, levels):
    for path in ("/api/search", "/export.jsonl"):
        r = client.get(path, params={"q": _nested(levels)})
        assert r.status_code == 400
        assert f"puts {2 * levels} groups" in r.json()["error"]["message"]


def test_the_deepest_query_allowed_runs_in_elasticsearch(client, archive):
    # with filters (a language, the default relevance band), so every wrapper the compiler adds is there too
    q = _nested(MAX_DEPTH // 2)
    for path in ("/", "/api/search", "/api/histogram", "/export.csv", "/feed.atom"):
        r = client.get(path, params={"q": q, "compare": q.replace("a", "c"), "lang": "en"})
        assert r.status_code == 200, _message(r)


@pytest.mark.parametrize("n", [600, 15_000])
@pytest.mark.parametrize("path", ["/articles/{}", "/articles/{}/raw", "/api/articles/{}"])
def test_ids_no_article_can_have_are_404_without_asking(client, n, path):
    r = client.get(path.format("a" * n))
    assert r.status_code == 404
    message = _message(r)
    assert "No article with id" in message and len(message) < 300      # the id is not echoed whole


def test_prefixes_and_query_sizes_beyond_the_bounds_are_refused_with_the_bound():
    with pytest.raises(QuerySyntaxError, match="the limit is 500"):
        parse_query("a" * 600 + "*")
    with pytest.raises(QuerySyntaxError, match="the limit is 500"):
        parse_query("url:https://example.com/" + "a" * 600 + "*")
    with pytest.raises(QuerySyntaxError, match=f"the limit is {MAX_TERMS}"):
        parse_query(" ".join(f"w{i}" for i in range(MAX_TERMS + 1)))
    assert parse_query(" ".join(["bank"] * 1000)) == parse_query("bank")    # repeated words count once


def test_the_largest_queries_allowed_run_in_elasticsearch(client, archive):
    words = [f"{chr(97 + i % 26)}{i}" for i in range(MAX_TERMS)]
    for q in (" ".join(words), " OR ".join(words)[:2000], "x" * 499 + "*", " ".join(f"site:s{i}.pl" for i in range(150))):
        r = client.get("/api/search", params={"q": q, "relevance": "all"})
        assert r.status_code == 200, _message(r)


def test_an_elasticsearch_refusal_reads_as_a_sentence_without_its_internals(settings, archive, caplog):
    with pytest.raises(BadQuery) as err:
        list(Archive(settings).scan(["id"], query={"no_such_query": {}}))
    message = str(err.value)
    assert "too large or too complex" in message
    assert "parsing_exception" not in message and "no_such_query" not in message
    assert any("no_such_query" in r.getMessage() or "parsing_exception" in r.getMessage() for r in caplog.records)
