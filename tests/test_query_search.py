"""Searching the archive through the one query builder, on the real node."""

from __future__ import annotations

from datetime import date


from indexer.archive import Archive
from indexer.query import HL_PRE, SearchParams

import search_archive as sa


def keys(archive, result) -> set[str]:
    by_id = {v: k for k, v in archive.items()}
    return {by_id[h.id] for h in result.hits}


def run(es, settings, **kw):
    kw.setdefault("relevant_only", False)
    return Archive(settings).search(SearchParams(**kw), collapse=False)


def test_empty_query_lists_relevant_articles_newest_first(es, settings, archive):
    r = Archive(settings).search(SearchParams(), collapse=False)
    assert keys(archive, r) == sa.expected(lambda a: a.relevant)
    dates = [h.published_at for h in r.hits if h.published_at]
    assert dates == sorted(dates, reverse=True)
    assert r.hits[-1].published_at is None  # undated last


def test_a_word_finds_its_inflected_forms(es, settings, archive):
    # "bank" finds the Polish "banków"/"banki" through the lemma fields
    assert "fb-pl" in keys(archive, run(es, settings, q="bank"))
    assert "fb-pl" in keys(archive, run(es, settings, q="facebook"))  # "Facebooka"


def test_a_phrase_matches_inflected_phrases(es, settings, archive):
    assert keys(archive, run(es, settings, q='"dane klientów"')) == {"fb-pl"}      # text has "danych klienta" too
    assert keys(archive, run(es, settings, q='"card transactions"')) == {"fb-banks", "fb-banks-wire"}
    assert keys(archive, run(es, settings, q='"transactions card"')) == set()


def test_boolean_operators(es, settings, archive):
    assert keys(archive, run(es, settings, q="amazon OR google")) == {"amazon-wf", "google-office"}
    assert keys(archive, run(es, settings, q="citigroup -facebook")) == {"formula", "undated"}
    assert keys(archive, run(es, settings, q="(amazon OR google) AND warsaw")) == {"google-office"}


def test_prefix_and_fields(es, settings, archive):
    assert keys(archive, run(es, settings, q="transa*")) == {"fb-banks", "fb-banks-wire", "fb-pl"}  # transakcje
    assert keys(archive, run(es, settings, q="title:report")) == {"fb-banks-wire"}
    assert keys(archive, run(es, settings, q="source:wire-en")) == {"fb-banks-wire"}
    assert keys(archive, run(es, settings, q="author:nowak")) == {"fb-pl"}
    assert keys(archive, run(es, settings, q="lang:pl")) == {"fb-pl"}
    assert keys(archive, run(es, settings, q="entity:amazon")) == {"amazon-wf"}
    assert keys(archive, run(es, settings, q='entity:"Wells Fargo"')) == {"amazon-wf"}


def test_filters_combine(es, settings, archive):
    r = run(es, settings, entities=("fb", "jpm"))
    assert keys(archive, r) == {"fb-banks", "fb-banks-wire"}  # entities: all of them
    r = run(es, settings, sources=("news-pl", "wire-en"))
    assert keys(archive, r) == {"fb-pl", "fb-banks-wire"}    # sources: any of them
    r = run(es, settings, entity_types=("bank",), langs=("en",), date_from=date(2024, 1, 1),
            date_to=date(2024, 5, 1))
    assert keys(archive, r) == {"fb-banks", "formula"}       # date_to includes the whole day
    assert "google-office" not in keys(archive, Archive(settings).search(SearchParams(q="google"), collapse=False))


def test_facets_count_under_the_other_filters(es, settings, archive):
    r = run(es, settings, q="facebook", sources=("news-en",))
    assert r.total == 1
    sources = {v.value: v.count for v in r.facets["source"]}
    # a source facet counts as if its own filter were off, so other sources can be added
    assert sources == {"news-en": 1, "wire-en": 1, "news-pl": 1, "trouble": 1}
    assert [v.value for v in r.facets["source"] if v.selected] == ["news-en"]
    entities = {v.value: (v.label, v.count) for v in r.facets["entity"]}
    assert entities["jpm"] == ("JPMorgan Chase", 1)


def test_near_duplicates_collapse_with_a_count(es, settings, archive):
    r = Archive(settings).search(SearchParams(q="jpmorgan"))
    assert r.collapsed and r.total == 2 and len(r.hits) == 1
    assert r.hits[0].similar_count == 1
    assert r.stories == 1 and r.pages == 1


def test_snippets_mark_the_words_and_escape_nothing_themselves(es, settings, archive):
    r = run(es, settings, q="bank")
    hit = next(h for h in r.hits if h.id == archive["fb-pl"])
    assert HL_PRE + "bank" in hit.snippet_hl.lower()  # "banki"/"banków" marked via the stem
    hostile = next(h for h in run(es, settings, q="hostile").hits)
    from search_ui.render import hit_json
    html = hit_json(hostile)["snippet_html"] + hit_json(hostile)["title_html"]
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html


def test_histogram_counts_matches_and_all_articles(es, settings, archive):
    over_time = Archive(settings).histogram(SearchParams(q="facebook", relevant_only=False))
    interval, buckets = over_time.interval, over_time.buckets
    assert interval in ("day", "week")
    assert sum(b.count for b in buckets) == 4  # the undated article has no place on the time axis
    assert all(b.total >= b.count for b in buckets)
    first, last = min(b.start for b in buckets), max(b.start for b in buckets)
    in_range = sa.expected(lambda a: a.published and first.date() <= a.published.date() <= last.date())
    assert sum(b.total for b in buckets) == len(in_range)  # all archived articles of those days


def test_count_is_the_number_of_matches(es, settings, archive):
    assert Archive(settings).count_matching(SearchParams(q="citigroup", relevant_only=False)) == len(
        sa.expected(lambda a: "citi" in {e[0] for e in a.entities}))


def test_entities_and_sources_views(es, settings, archive):
    ents = {e["id"]: e for e in Archive(settings).entities()}
    assert ents["fb"]["articles"] == 4 and ents["fb"]["name"] == "Facebook"
    assert [e["id"] for e in Archive(settings).entities(prefix="well")][:1] == ["wf"]
    fb = Archive(settings).entity("fb")
    assert {c["id"] for c in fb["co_mentioned"]} == {"jpm", "citi"}
    assert Archive(settings).entity("nobody-at-all") is None
    sources = {s["source"]: s for s in Archive(settings).sources_overview()}
    assert sources["news-en"]["articles"] == 5 and sources["news-en"]["relevant_articles"] == 4


def test_an_entity_name_finds_its_misspellings(es, settings, archive):
    from indexer import store
    odd = sa.TestArticle("citygroup", "Posłowie pytają o Citygroup", "Dane z Citygroup trafiły do Facebooka?",
                         "news-pl", "pl", sa._d(2024, 1, 5), [sa.CITI], cluster="c-odd")
    doc = sa.document_for(odd, settings)
    store.write_documents(es, settings, [doc], refresh="wait_for")
    try:
        found = {h.id for h in run(es, settings, q="citigroup").hits}
        assert doc["id"] in found  # recognised as Citigroup by enrichment, not spelled so
        assert doc["id"] not in {h.id for h in run(es, settings, q="citigroup*").hits}
    finally:
        es.delete(index=settings.articles_alias, id=doc["id"], refresh="wait_for")


# --- the relevance bands: relevant, possibly relevant (to review), not about the story ----------------------

def test_the_possible_band_lists_the_articles_scored_just_below_the_threshold(es, settings, archive):
    r = Archive(settings).search(SearchParams(relevance="possible"), collapse=False)
    assert keys(archive, r) == sa.POSSIBLE == {"apple-savings", "wallet-loyalty"}  # 0.30 is in, 0.29 is not
    assert {h.relevance_band for h in r.hits} == {"possible"}
    for h in r.hits:   # each with the sentences that gave it its score, to judge it by
        assert h.relevance_evidence == [sa.evidence_of(next(a for a in sa.ARTICLES if archive[a.key] == h.id))]
    assert Archive(settings).count_matching(SearchParams(relevance="possible")) == 2
    assert sum(b.count for b in Archive(settings).histogram(SearchParams(relevance="possible")).buckets) == 2


def test_the_three_bands_split_every_search(es, settings, archive):
    for q in ("", "card", "apple OR citigroup"):
        everything = keys(archive, run(es, settings, q=q, relevance="all", size=100))
        bands = {b: keys(archive, run(es, settings, q=q, relevance=b, size=100)) for b in ("relevant", "possible")}
        assert bands["relevant"] == {k for k in everything if sa.BY_KEY[k].relevant}
        assert bands["possible"] == everything & sa.POSSIBLE
        assert not bands["relevant"] & bands["possible"]


def test_the_relevance_facet_counts_each_band_under_the_other_filters(es, settings, archive):
    def counts(r):
        return {v.value: v.count for v in r.facets["relevance"]}
    r = Archive(settings).search(SearchParams())
    assert counts(r) == {b: len(sa.expected(lambda a, b=b: sa.band_of(a) == b))
                         for b in ("relevant", "possible", "not")}
    assert counts(r) == {"relevant": 7, "possible": 2, "not": 2}
    assert [(v.value, v.label, v.selected) for v in r.facets["relevance"]] == [
        ("relevant", "relevant to the story", True), ("possible", "possibly relevant — review", False),
        ("not", "not about the story", False)]
    assert [v.hint for v in r.facets["relevance"]] == [
        "topic score ≥ 0.50", "topic score from 0.30 to below 0.50: the rules did not accept it, worth a look",
        "topic score below 0.30"]
    # its own choice does not change its counts; the other filters do (a band with no match counts 0)
    chosen = Archive(settings).search(SearchParams(relevance="possible"))
    assert counts(chosen) == counts(r) and [v.value for v in chosen.facets["relevance"] if v.selected] == ["possible"]
    assert counts(Archive(settings).search(SearchParams(sources=("review-en",)))) == {
        "relevant": 0, "possible": 2, "not": 1}
    assert counts(Archive(settings).search(SearchParams(q="citigroup", relevance="all"))) == {
        "relevant": 4, "possible": 0, "not": 0}
    # the other facets count within the chosen band
    assert {v.value: v.count for v in chosen.facets["source"]} == {"review-en": 2}


def test_the_lower_edge_of_the_possible_band_is_a_setting(es, settings, archive):
    narrower = Archive(settings.replace(relevance_possible_min=0.4))
    r = narrower.search(SearchParams(relevance="possible"), collapse=False)
    assert keys(archive, r) == {"apple-savings"}
    assert {v.value: v.count for v in r.facets["relevance"]} == {"relevant": 7, "possible": 1, "not": 3}
