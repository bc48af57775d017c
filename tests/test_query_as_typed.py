"""Queries as people type them, on the real node: a pasted URL, ``*``, ``site:``; and the attention
chart's series of several queries compared under the same filters."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

import search_archive as sa
from indexer import store
from indexer.archive import Archive
from indexer.query import SearchParams


def keys(archive, result) -> set[str]:
    by_id = {v: k for k, v in archive.items()}
    return {by_id.get(h.id, h.id) for h in result.hits}


def find(settings, q: str, **kw):
    return Archive(settings).search(SearchParams(q=q, relevance="all", **kw), collapse=False)


@pytest.mark.parametrize("pasted", [
    "http://news-en.test/fb-banks",            # exactly as stored
    "https://news-en.test/fb-banks",           # the other scheme
    "https://news-en.test/fb-banks/",          # with a trailing slash
    "HTTP://News-EN.test/fb-banks#comments",   # host case, a fragment
    "https://news-en.test/fb-banks?utm_source=newsletter&utm_medium=email",   # tracking parameters
    "url:news-en.test/fb-banks",               # no scheme at all, said to be an address with url:
])
def test_a_pasted_url_finds_its_article(settings, archive, pasted):
    assert keys(archive, find(settings, pasted)) == {"fb-banks"}


def test_a_url_matches_the_canonical_url_too(es, settings, archive):
    doc = sa.document_for(sa.TestArticle("moved", "An article fetched through a redirect", "Some text about banks.",
                                         "news-en", "en", sa._d(2024, 9, 2), cluster="c-moved"), settings)
    doc["url"] = "http://news-en.test/redirect?id=77"
    doc["canonical_url"] = "https://www.news-en.test/2024/09/moved-story"
    store.write_documents(es, settings, [doc], refresh="wait_for")
    try:
        assert [h.id for h in find(settings, "https://www.news-en.test/2024/09/moved-story/").hits] == [doc["id"]]
        assert [h.id for h in find(settings, "http://news-en.test/redirect?id=77").hits] == [doc["id"]]
        # a URL with no article of its own finds the articles quoting it, or nothing
        assert find(settings, "https://www.news-en.test/2024/09/another-story").total == 0
        # a prefix: everything under a path
        assert [h.id for h in find(settings, "url:https://www.news-en.test/2024/*").hits] == [doc["id"]]
    finally:
        es.delete(index=settings.articles_alias, id=doc["id"], refresh="wait_for")


def test_a_url_quoted_in_a_text_is_found_by_its_words(es, settings, archive):
    doc = sa.document_for(sa.TestArticle("quotes-link", "A post that links a story",
                                         "As reported at https://www.example.com/2018/08/story/ the bank agreed.",
                                         "news-en", "en", sa._d(2024, 9, 3), cluster="c-quotes"), settings)
    store.write_documents(es, settings, [doc], refresh="wait_for")
    try:
        assert [h.id for h in find(settings, "https://www.example.com/2018/08/story/").hits] == [doc["id"]]
    finally:
        es.delete(index=settings.articles_alias, id=doc["id"], refresh="wait_for")


def test_a_star_alone_finds_every_article(settings, archive):
    assert find(settings, "*").total == len(sa.ARTICLES)
    assert keys(archive, find(settings, "* -citigroup", sources=("news-en",))) == {"google-office", "amazon-wf"}


def test_site_searches_a_domain_and_its_subdomains(es, settings, archive):
    doc = sa.document_for(sa.TestArticle("sub", "A story on a subdomain", "Banks and data.", "news-en", "en",
                                         sa._d(2024, 9, 4), cluster="c-sub"), settings)
    doc["domain"] = "www.news-en.test"
    other = sa.document_for(sa.TestArticle("lookalike", "A look-alike domain", "Banks and data.", "news-en", "en",
                                           sa._d(2024, 9, 5), cluster="c-look"), settings)
    other["domain"] = "fakenews-en.test"       # ends with the name, but is not a subdomain
    store.write_documents(es, settings, [doc, other], refresh="wait_for")
    try:
        news_en = {a.key for a in sa.ARTICLES if a.source == "news-en"}
        assert keys(archive, find(settings, "site:news-en.test")) == news_en | {doc["id"]}
        assert keys(archive, find(settings, "site:www.news-en.test")) == {doc["id"]}
        assert keys(archive, find(settings, "site:NEWS-EN.test google")) == {"google-office"}
        assert keys(archive, find(settings, "site:https://wire-en.test/some/page")) == {"fb-banks-wire"}
    finally:
        for d in (doc, other):
            es.delete(index=settings.articles_alias, id=d["id"], refresh="wait_for")


def test_the_attention_series_compare_queries_in_the_same_intervals(settings, archive):
    params = SearchParams(q="citigroup", compare=("amazon", "google"), relevance="all")
    att = Archive(settings).attention(params)
    assert att.interval == "week"                            # Nov 2023 to May 2024: weeks
    assert [s.q for s in att.series] == ["citigroup", "amazon", "google"]
    dated = lambda pred: sum(1 for a in sa.ARTICLES if pred(a) and a.published)   # noqa: E731
    assert [s.total for s in att.series] == [dated(lambda a: "Citigroup" in a.title + a.text),
                                             dated(lambda a: "Amazon" in a.title + a.text),
                                             dated(lambda a: "Google" in a.title + a.text)]
    assert att.starts[0] <= datetime(2023, 11, 20, 9, 30, tzinfo=timezone.utc) < att.ends[0]
    assert all(e == s2 for e, s2 in zip(att.ends, att.starts[1:]))           # intervals follow each other
    assert all(st.weekday() == 0 for st in att.starts)                       # calendar weeks start on Monday
    # the archived count is every article of the interval, whatever the query
    assert sum(att.archived) == sum(1 for a in sa.ARTICLES
                                    if a.published and att.starts[0] <= a.published < att.ends[-1])
    # shares are of the archived articles of each interval
    k = next(i for i, c in enumerate(att.series[1].counts) if c)
    assert att.shares(att.series[1])[k] == att.series[1].counts[k] / att.archived[k]


def test_a_chosen_date_range_is_the_span_of_the_chart(settings, archive):
    att = Archive(settings).attention(SearchParams(q="facebook", relevance="all", date_from=date(2024, 5, 1),
                                                   date_to=date(2024, 5, 20)))
    assert att.interval == "day" and len(att.starts) == 20
    assert att.starts[0].date() == date(2024, 5, 1) and att.ends[-1].date() == date(2024, 5, 21)
    assert sum(att.series[0].counts) == 2                     # fb-banks (1 May) and its wire copy (2 May)


def test_no_match_anywhere_is_an_empty_chart(settings, archive):
    att = Archive(settings).attention(SearchParams(q="zzzunknownword", relevance="all"))
    assert att.starts == [] and att.series[0].total == 0
