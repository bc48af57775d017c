"""The query language: what users type, what it means, and the messages for malformed input."""

from __future__ import annotations

from datetime import date

import pytest

from dealwatch.settings import Settings
from indexer.query import (HL_POST, HL_PRE, BadQuery as QueryError, QuerySyntaxError, RelevanceBands, SearchParams,
                           parse_query)
from indexer.query.compile import build_query, facet_aggs
from indexer.query.language import And, MatchAll, Not, Or, Term
from search_ui.render import highlight_to_html

request_from_params = SearchParams.from_url
BANDS = RelevanceBands(threshold=0.5, possible_min=0.3)


def test_empty_query_matches_everything():
    assert parse_query("") == MatchAll()
    assert parse_query("   ") == MatchAll()


def test_words_are_combined_with_and():
    assert parse_query("facebook bank") == And((Term("facebook"), Term("bank")))
    assert parse_query("facebook AND bank") == parse_query("facebook bank")


def test_or_binds_looser_than_and():
    assert parse_query("a b OR c") == Or((And((Term("a"), Term("b"))), Term("c")))


def test_not_and_leading_minus_exclude():
    assert parse_query("facebook NOT google") == And((Term("facebook"), Not(Term("google"))))
    assert parse_query("facebook -google") == parse_query("facebook NOT google")


def test_hyphenated_words_stay_one_word():
    assert parse_query("e-mail") == Term("e-mail")


def test_phrases_prefixes_and_fields():
    assert parse_query('"card transactions"') == Term("card transactions", phrase=True)
    assert parse_query("transact*") == Term("transact", prefix=True)
    assert parse_query('title:"big banks" source:news-en author:smith lang:pl entity:fb') == And((
        Term("big banks", "title", phrase=True), Term("news-en", "source"), Term("smith", "author"),
        Term("pl", "lang"), Term("fb", "entity")))


def test_parentheses_group():
    assert parse_query("(facebook OR meta) chase") == And((Or((Term("facebook"), Term("meta"))), Term("chase")))


@pytest.mark.parametrize("q, says", [
    ('"card transactions', "never closed"),
    ("(facebook OR meta", "never closed"),
    ("facebook)", "Unmatched ')'"),
    ("facebook AND", "needs a word after it"),
    ("OR facebook", "needs a word before it"),
    ("facebook AND OR bank", "put a word between them"),
    ("NOT", "needs a word after it"),
    ("colour:red", "Unknown field 'colour'"),
    ("title:*", "has no letters"),
    ("https:// bank", "starts an address with no host after it: paste the whole URL"),
    ("site:/", "site: at position 1 needs a domain"),
    ("fa*ce", "only allowed at the end"),
    ("()", "Empty parentheses"),
    ('""', "Empty quotes"),
])
def test_malformed_queries_get_a_helpful_message(q, says):
    with pytest.raises(QuerySyntaxError) as err:
        parse_query(q)
    assert says in str(err.value)


@pytest.mark.parametrize("q, says", [
    # a near miss names the field that was meant, then every field
    ("titel:chase", "Unknown field 'titel' at position 1: did you mean title:? The fields are title:, source:, "
                    "author:, lang:, entity:, site:, url:"),
    ("bank sorce:news-en", "Unknown field 'sorce' at position 6: did you mean source:?"),
    ("lnag:pl", "did you mean lang:?"),
    ("athor:smith", "did you mean author:?"),
    ("entitiy:jpm", "did you mean entity:?"),
    ("stie:bankier.pl", "did you mean site:?"),
    # nothing near: the list of fields, and how to search the words instead
    ("colour:red", "Unknown field 'colour' at position 1: the fields are title:, source:, author:, lang:, entity:, "
                   'site:, url:; to search for the words, put them in quotes ("colour:red").'),
    ("x:1", "the fields are title:"),
])
def test_an_unknown_field_says_which_fields_exist_and_suggests_the_near_miss(q, says):
    with pytest.raises(QuerySyntaxError) as err:
        parse_query(q)
    assert says in str(err.value)
    if "did you mean" not in says and "x:1" not in q:
        assert "did you mean" not in str(err.value)


@pytest.mark.parametrize("q, url", [
    ("https://www.example.com/2018/08/story/", "https://www.example.com/2018/08/story/"),
    ("http://news-en.test/fb-banks", "http://news-en.test/fb-banks"),
    ("www.bankier.pl/wiadomosc/x.html", "www.bankier.pl/wiadomosc/x.html"),
    ("https://example.com/a?b=1&c=2#top", "https://example.com/a?b=1&c=2#top"),
    ("url:https://example.com/x", "https://example.com/x"),
    ("https://example.com/wiki/Bank_(finance)", "https://example.com/wiki/Bank_(finance)"),
    ("https://example.com/x.", "https://example.com/x"),             # the full stop of a sentence
])
def test_a_pasted_url_is_one_term_that_looks_for_the_address(q, url):
    assert parse_query(q) == Term(url, "url")


def test_a_url_stays_one_term_among_other_words_and_brackets():
    assert parse_query("(https://example.com/a OR https://example.com/b) bank") == And((
        Or((Term("https://example.com/a", "url"), Term("https://example.com/b", "url"))), Term("bank")))
    assert parse_query("see https://example.com/a, then bank") == And((
        Term("see"), Term("https://example.com/a", "url"), Term("then"), Term("bank")))
    assert parse_query("url:https://example.com/2018/*") == Term("https://example.com/2018/", "url", prefix=True)


def test_a_star_alone_means_every_article():
    assert parse_query("*") == MatchAll()
    assert parse_query("**") == MatchAll()
    assert parse_query("* -google") == And((MatchAll(), Not(Term("google"))))


@pytest.mark.parametrize("q, host", [
    ("site:bankier.pl", "bankier.pl"),
    ("site:WWW.Bankier.PL", "www.bankier.pl"),
    ("site:https://www.bankier.pl/wiadomosci/", "www.bankier.pl"),
    ('site:"bankier.pl"', "bankier.pl"),
    ("domain:bankier.pl", "bankier.pl"),
])
def test_site_names_a_domain_however_it_is_written(q, host):
    assert parse_query(q) == Term(host, "site", phrase=q.startswith('site:"'))


def test_site_includes_subdomains_and_urls_match_every_spelling_in_both_fields():
    site = build_query(SearchParams(q="site:bankier.pl", relevance="all"), bands=BANDS)
    assert {"term": {"domain": {"value": "bankier.pl", "case_insensitive": True}}} in site["bool"]["should"]
    assert {"wildcard": {"domain": {"value": "*.bankier.pl", "case_insensitive": True}}} in site["bool"]["should"]
    url = build_query(SearchParams(q="https://www.example.com/2018/08/story/", relevance="all"), bands=BANDS)
    terms = {f: set(c["terms"][f]) for c in url["bool"]["should"] if "terms" in c for f in c["terms"] if f != "boost"}
    assert terms.keys() == {"url", "canonical_url"}
    for field in terms:
        assert {"https://www.example.com/2018/08/story/", "https://www.example.com/2018/08/story",
                "http://www.example.com/2018/08/story"} <= terms[field]
    assert {"match_phrase": {"text": "https://www.example.com/2018/08/story/"}} in url["bool"]["should"]


def test_url_spellings_cover_scheme_slash_case_fragment_and_tracking():
    from indexer.query.urls import url_variants
    got = set(url_variants("HTTP://Example.COM/a/?utm_source=feed&b=2&a=1#comments"))
    assert {"https://example.com/a?b=2&a=1", "http://example.com/a/?b=2&a=1", "https://example.com/a?a=1&b=2"} <= got
    assert "https://example.com/a" in url_variants("https://example.com/a/?utm_source=feed&fbclid=1")
    assert "https://example.com/" in url_variants("example.com") and "https://example.com" in url_variants("example.com")


def test_compared_queries_are_checked_and_share_the_filters():
    p = request_from_params([("q", "facebook"), ("compare", "google, amazon"), ("compare", "apple"),
                             ("lang", "en")])
    assert p.compare == ("google, amazon", "apple")          # commas belong to a query: only repeats make two
    assert [(c.q, c.langs, c.compare) for c in p.compared] == [
        ("facebook", ("en",), ("google, amazon", "apple")), ("google, amazon", ("en",), ()), ("apple", ("en",), ())]
    assert request_from_params(p.to_url()) == p
    with pytest.raises(QueryError, match="At most 3 queries can be compared"):
        request_from_params([("compare", q) for q in "abcd"])
    with pytest.raises(QueryError, match=r"In the compared query '\(x': The '\(' at position 1 is never closed"):
        request_from_params([("compare", "(x")])


def test_request_from_url_parameters_round_trips():
    req = request_from_params([("q", "facebook"), ("entity", "fb"), ("entity", "jpm"), ("source", "a,b"),
                               ("lang", "en"), ("from", "2024-01-01"), ("to", "2024-12-31"), ("relevant", "0"),
                               ("sort", "newest"), ("page", "2"), ("size", "50")])
    assert req == SearchParams(q="facebook", entities=("fb", "jpm"), sources=("a", "b"), langs=("en",),
                                date_from=date(2024, 1, 1), date_to=date(2024, 12, 31), relevant_only=False,
                                sort="newest", page=2, size=50)
    assert request_from_params(req.to_url()) == req


def test_relevant_only_is_the_default_and_sort_follows_the_query():
    assert request_from_params([]).relevant_only is True
    assert request_from_params([]).relevance == "relevant"
    assert request_from_params([]).effective_sort == "newest"
    assert request_from_params([("q", "bank")]).effective_sort == "relevance"


@pytest.mark.parametrize("items, relevance", [
    ([("relevance", "possible")], "possible"),
    ([("relevance", "all")], "all"),
    ([("relevance", "Relevant ")], "relevant"),
    ([("relevance", "")], "relevant"),
    # the older flag (bookmarks, feeds, links written before the three bands) means what it meant
    ([("relevant", "0")], "all"),
    ([("relevant", "no")], "all"),
    ([("relevant", "1")], "relevant"),
    ([("relevant", "")], "relevant"),
    ([("relevant", "0"), ("relevance", "possible")], "possible"),   # the new name wins
    ([("relevance", ""), ("relevant", "0")], "all"),
])
def test_relevance_is_one_of_three_bands_and_old_urls_keep_working(items, relevance):
    assert request_from_params(items).relevance == relevance


def test_the_url_names_the_band_in_its_canonical_form():
    assert request_from_params([("relevant", "0")]).to_url() == [("relevance", "all")]
    assert request_from_params([("relevant", "1")]).to_url() == []
    req = request_from_params([("q", "apple"), ("relevance", "possible")])
    assert req.to_url() == [("q", "apple"), ("relevance", "possible")]
    assert request_from_params(req.to_url()) == req
    assert req.to_url(relevance="all") == [("q", "apple"), ("relevance", "all")]


def test_older_callers_naming_relevant_only_get_the_band_they_meant():
    assert SearchParams(relevant_only=False).relevance == "all"
    assert SearchParams(relevant_only=True).relevance == "relevant"
    assert SearchParams.parse({"relevant_only": False, "relevance": "possible"}).relevance == "possible"
    assert SearchParams(relevance="possible").relevant_only is False


@pytest.mark.parametrize("params, says", [
    ([("size", "1000")], "Page size must be between 1 and 100"),
    ([("page", "0")], "Page numbers start at 1"),
    ([("page", "9999")], "narrow the query (a date range, a source, an entity) or use the export"),
    ([("sort", "random")], "Unknown sort"),
    ([("from", "2024-05-01"), ("to", "2024-01-01")], "date range is empty"),
    ([("relevance", "maybe")], "Unknown relevance 'maybe': use one of relevant, possible, all"),
])
def test_out_of_bounds_requests_are_refused_with_a_reason(params, says):
    with pytest.raises(QueryError) as err:
        request_from_params(params).checked(Settings().ui_max_page_size)
    assert says in str(err.value)


@pytest.mark.parametrize("params, says", [([("page", "two")], "page must be a whole number"),
                                           ([("from", "yesterday")], "from must be a date")])
def test_bad_parameter_values_are_query_errors(params, says):
    with pytest.raises(QueryError) as err:
        request_from_params(params)
    assert says in str(err.value)


def test_filters_are_filters_of_the_query():
    q = build_query(SearchParams(q="bank", entities=("fb", "jpm"), langs=("en",)), bands=BANDS)
    filters = q["bool"]["filter"]
    assert {"term": {"entity_ids": "fb"}} in filters and {"term": {"entity_ids": "jpm"}} in filters
    assert {"terms": {"lang": ["en"]}} in filters
    assert {"term": {"relevant": True}} in filters


def test_the_possible_band_is_a_score_range_below_the_relevant_ones():
    filters = build_query(SearchParams(relevance="possible"), bands=BANDS)["bool"]["filter"]
    assert filters == [{"bool": {"filter": [{"range": {"relevance_score": {"gte": 0.3}}}],
                                 "must_not": [{"term": {"relevant": True}}]}}]
    assert build_query(SearchParams(relevance="all"), bands=BANDS) == {"match_all": {}}
    wider = RelevanceBands(threshold=0.5, possible_min=0.1)        # the lower edge comes from the settings
    assert "'gte': 0.1" in str(build_query(SearchParams(relevance="possible"), bands=wider))


def test_the_relevance_facet_counts_three_bands_under_the_other_filters():
    agg = facet_aggs(SearchParams(q="apple", langs=("en",), relevance="possible"), bands=BANDS)["facet_relevance"]
    assert agg["filter"] == {"bool": {"filter": [{"terms": {"lang": ["en"]}}]}}   # its own filter left out
    assert agg["aggs"]["bands"]["filters"]["filters"] == {b: BANDS.clause(b) for b in ("relevant", "possible", "not")}


@pytest.mark.parametrize("relevant, score, band", [
    (True, 0.9, "relevant"), (True, 0.45, "relevant"),   # the stored flag decides "relevant"
    (False, 0.49, "possible"), (False, 0.3, "possible"), (False, 0.2999, "not"), (False, 0.0, "not"),
    (None, None, "not"), (False, 0.7, "possible"),       # enriched under a higher threshold: still reviewed
])
def test_every_article_falls_in_exactly_one_band(relevant, score, band):
    assert BANDS.band_of(relevant, score) == band


@pytest.mark.parametrize("threshold, possible_min", [(0.5, 0.5), (0.5, 0.6), (0.5, -0.1)])
def test_a_possible_band_that_is_not_below_the_threshold_is_refused(threshold, possible_min):
    with pytest.raises(ValueError, match="relevance_possible_min .* must be at least 0 and below relevance_threshold"):
        RelevanceBands(threshold=threshold, possible_min=possible_min)
    with pytest.raises(ValueError, match="DEALWATCH_RELEVANCE_POSSIBLE_MIN"):
        RelevanceBands.from_settings(Settings(relevance_threshold=threshold, relevance_possible_min=possible_min))


def test_highlighted_text_is_escaped_except_the_markers():
    raw = f'<script>alert(1)</script> {HL_PRE}bank{HL_POST} "x" <b onclick=y>'
    out = highlight_to_html(raw)
    assert "<script>" not in out and "<b " not in out
    assert "&lt;script&gt;" in out and "<mark>bank</mark>" in out
    assert highlight_to_html(f"{HL_PRE}cut off") == "<mark>cut off</mark>"


@pytest.mark.parametrize("q", ["(" * 400 + "bank" + ")" * 400, "NOT " * 600 + "bank"])
def test_absurdly_deep_nesting_is_a_syntax_error_not_a_crash(q):
    with pytest.raises(QuerySyntaxError, match="nested"):
        parse_query(q)
