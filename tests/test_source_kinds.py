"""Search sources and the manners of a source in sources.yaml: what is built, and what a user sees when it is wrong."""

from __future__ import annotations

import pytest

from crawler.sources import SourcesError, parse_sources, search_feed_url


def one(**raw):
    return parse_sources({"sources": [{"name": "s", **raw}]}, "sources.yaml")[0]


def test_a_google_news_search_is_written_in_plain_words_and_its_feed_url_is_built():
    s = one(engine="google_news", lang="pl", queries=["Facebook banki dane klientów"])
    assert s.kind == "search" and s.language == "pl" and s.country == "PL"
    assert s.feeds == ("https://news.google.com/rss/search?q=Facebook+banki+dane+klient%C3%B3w&hl=pl&gl=PL"
                       "&ceid=PL:pl",)
    assert s.allowed_domains == ()      # items are fetched on the publishers' own domains
    assert s.configured().kind == "search"


def test_bing_sets_the_market_and_english_google_names_the_country():
    assert search_feed_url("bing_news", "Meta banki", "pl", "PL") == \
        "https://www.bing.com/news/search?q=Meta+banki&format=rss&mkt=pl-PL"
    assert search_feed_url("google_news", "tech giants bank data", "en", "GB").endswith("hl=en-GB&gl=GB&ceid=GB:en")


def test_a_pasted_google_alerts_feed_and_a_local_endpoint():
    a = one(engine="google_alerts", language="en", feeds=["https://www.google.com/alerts/feeds/0123/4567"])
    assert a.feeds == ("https://www.google.com/alerts/feeds/0123/4567",) and a.is_search
    b = one(engine="bing_news", language="en", queries=["x y"], endpoint="http://127.0.0.20:8080/")
    assert b.feeds == ("http://127.0.0.20:8080/news/search?q=x+y&format=rss&mkt=en-US",)


def test_manners_of_a_source():
    s = one(language="pl", feeds=["https://example.pl/rss"], user_agent="Mozilla/5.0 (compatible; DW)",
            headers={"Accept-Language": "pl-PL"}, cookies={"euconsent": "accepted", "rodo": 1},
            proxy="http://proxy.example.org:3128", timezone="Europe/Warsaw")
    assert s.kind == "site" and s.headers == (("Accept-Language", "pl-PL"),)
    assert s.cookie_header() == "euconsent=accepted; rodo=1"
    assert s.zone().key == "Europe/Warsaw" and s.proxy == "http://proxy.example.org:3128"


@pytest.mark.parametrize("raw, words", [
    ({"engine": "yahoo_news", "queries": ["a"], "lang": "en"}, "engine must be one of google_news, bing_news"),
    ({"engine": "google_news", "lang": "pl"}, "needs queries"),
    ({"engine": "google_news", "queries": ["a"]}, "needs its language"),
    ({"engine": "google_news", "queries": [""], "lang": "pl"}, "queries must be a list of search words"),
    ({"engine": "google_alerts", "queries": ["a"], "lang": "en"}, "takes the feed URL Google gives you"),
    ({"engine": "bing_news", "queries": ["a"], "lang": "pl", "country": "Polska"}, "country must be a two-letter code"),
    ({"engine": "bing_news", "queries": ["a"], "lang": "pl", "language": "en"}, "lang 'pl' and language 'en' disagree"),
    ({"queries": ["a"], "feeds": ["https://e.org/rss"]}, "queries belong to a search source: add engine"),
    ({"feeds": ["https://e.org/rss"], "timezone": "Europe/Warszawa"}, "timezone must be an IANA zone name"),
    ({"feeds": ["https://e.org/rss"], "proxy": "socks://p:1"}, "proxy must be an http(s) URL"),
    ({"feeds": ["https://e.org/rss"], "headers": ["Accept: x"]}, "headers must be a mapping"),
    ({"feeds": ["https://e.org/rss"], "cookies": {"a": {"b": 1}}}, "cookies.a must be a text value"),
])
def test_mistakes_name_the_source_and_the_field(raw, words):
    with pytest.raises(SourcesError) as err:
        one(**raw)
    assert words in str(err.value) and "sources.yaml: sources[0] (s)" in str(err.value)
