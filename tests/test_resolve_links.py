"""Search item links -> publisher URLs, without fetching: the formats Bing, Google Alerts and Google News use.

The Google News ids are built the way Google writes them (``demo_sites.search_web``: an old id
carries ``08 13 22 <length> <url>`` in its base64, a new one an opaque ``AU_yqL…`` token), so the
decoding is checked against the format, not against itself.
"""

from __future__ import annotations

import pytest

from crawler.resolve import decode_google_news_id, google_news_id, outlet_of, resolve_link, split_title
from demo_sites.search_web import new_google_id, old_google_id

PUBLISHER = "https://www.pb.pl/platforma-pyta-banki-o-dane-123456?x=1&y=2"


@pytest.mark.parametrize("link, url", [
    # Bing News: the publisher URL percent-encoded in url=
    ("http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=6F1A&url=https%3a%2f%2fwww.pb.pl%2fplatforma-pyta"
     "-banki-o-dane-123456%3fx%3d1%26y%3d2&c=8470&mkt=pl-pl", PUBLISHER),
    # Google Alerts: https://www.google.com/url?…&url=<URL>&…
    ("https://www.google.com/url?rct=j&sa=t&url=https://www.pb.pl/platforma-pyta-banki-o-dane-123456%3Fx%3D1%26y%3D2"
     "&ct=ga&cd=CAIyGjE&usg=AOvVaw3", PUBLISHER),
    # an older Google redirect names it q=
    ("https://www.google.com/url?q=https://example.org/a/b&sa=U&ved=0ah", "https://example.org/a/b"),
    # a Google News id from before mid-2024: the URL is in the id
    (f"https://news.google.com/rss/articles/{old_google_id(PUBLISHER)}?oc=5", PUBLISHER),
    # a link that already is the publisher's
    ("https://www.money.pl/gospodarka/banki-i-platformy-6912345.html", "https://www.money.pl/gospodarka/banki-i-platformy-6912345.html"),
])
def test_links_that_carry_the_publisher_url_are_decoded_locally(link, url):
    res = resolve_link(link)
    assert res.url == url and not res.ask_google


def test_a_newer_google_news_id_must_be_asked_to_google():
    link = f"https://news.google.com/rss/articles/{new_google_id(PUBLISHER)}?oc=5"
    res = resolve_link(link)
    assert res.url is None and res.ask_google
    assert google_news_id(link) == new_google_id(PUBLISHER)


@pytest.mark.parametrize("link, words", [
    ("http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=0&c=0", "without a url parameter"),
    ("https://news.google.com/rss/articles/%%%?oc=5", "not base64"),
    ("https://news.google.com/rss/articles/CBMiBGFiY2Q?oc=5", "carries no URL"),
    ("https://news.google.com/topics/CAAqBwgKMKHL9QowkqbaAg", "no article link"),
    ("mailto:desk@example.org", "not an http(s) link"),
])
def test_a_link_that_cannot_be_resolved_says_why(link, words):
    res = resolve_link(link)
    assert res.url is None and not res.ask_google and words in res.reason


def test_an_old_id_with_trailing_bytes_still_yields_its_url():
    assert decode_google_news_id(old_google_id("https://example.org/x")).url == "https://example.org/x"


def test_the_outlet_comes_from_source_news_source_or_the_title_suffix():
    assert outlet_of({"source": {"title": "Puls Biznesu", "href": "https://www.pb.pl"}, "title": "X - Puls Biznesu"}) \
        == ("Puls Biznesu", "https://www.pb.pl")
    assert outlet_of({"news_source": "Rzeczpospolita", "title": "Banki i dane"}) == ("Rzeczpospolita", "")
    assert outlet_of({"title": "Meta pyta banki o dane - Business Insider Polska"}) == ("Business Insider Polska", "")
    assert split_title("Banki - platformy - dane - Bankier.pl", "Bankier.pl") == ("Banki - platformy - dane", "Bankier.pl")
    assert split_title("A headline without an outlet") == ("A headline without an outlet", "")
