"""Consent walls, interstitials and challenge pages are recognised; articles with a cookie banner are not.

Extraction drops a consent wall as ``consent_wall`` instead of indexing its notice as an article
(``crawler.extract.extract_article``), and the bot-protection middleware blocks a domain at the
first challenge page (``crawler.walls.challenge_page``).
"""

from __future__ import annotations

import pytest

from crawler.extract import Dropped, extract_article
from crawler.walls import challenge_page, consent_wall, is_consent_host
from demo_sites.search_web import SearchWeb, render_consent_wall, render_page

ARTICLE = ("The consumer finance regulator has sent letters to five technology platforms asking what payment data "
           "they collect from banks and card issuers, and how long they keep it. ") * 4


@pytest.fixture(scope="module")
def web():
    return SearchWeb(8080)


def test_the_polish_consent_wall_of_the_search_web_is_dropped_as_consent_wall(web):
    pub = web.publisher("rynek-i-dane")
    result = extract_article(render_consent_wall(pub).encode(), pub.url("/zgoda/x/"), "s", "pl")
    assert isinstance(result, Dropped) and result.reason == "consent_wall"
    assert "zanim przejdziesz do serwisu" in result.message


def test_a_real_article_below_a_cookie_banner_is_kept(web):
    pub = web.publisher("rynek-i-dane")
    result = extract_article(render_page(pub, pub.articles[0]).encode(), pub.articles[0].url, "s", "pl")
    assert not isinstance(result, Dropped), result
    assert result.title == pub.articles[0].title


@pytest.mark.parametrize("text", [
    "Before you continue to Google\nWe use cookies and data to deliver and maintain Google services.\nAccept all\nReject all",
    "Yahoo is part of the Yahoo family of brands.\nWhen you use our sites and apps, we use cookies to provide our "
    "sites and apps to you.\nAccept all\nReject all\nManage privacy settings",
    "We value your privacy\nWe and our 842 partners store and access personal data, like browsing data.",
    "Please enable JavaScript to continue.",
])
def test_consent_walls_and_interstitials_in_english_are_recognised(text):
    assert consent_wall(text)


def test_an_article_that_mentions_privacy_and_cookies_is_not_a_wall():
    text = ARTICLE + "\nWe value your privacy: readers may reject all cookies on our settings page."
    assert consent_wall(text) is None


def test_consent_hosts():
    assert is_consent_host("https://consent.google.com/m?continue=https://news.google.com/")
    assert is_consent_host("https://guce.yahoo.com/consent?brandType=nonEu")
    assert not is_consent_host("https://www.consentmanager.example/news/")


@pytest.mark.parametrize("status, headers, body, what", [
    (403, {}, b"<html><head><title>Just a moment...</title></head><body>cf</body></html>", "Cloudflare"),
    (403, {b"x-datadome": b"protected"}, b"<html></html>", "DataDome"),
    (401, {}, b"<html><script src='https://ct.captcha-delivery.com/c.js'></script></html>", "DataDome"),
    (403, {}, b"<html><body><div id='px-captcha'></div></body></html>", "PerimeterX"),
    (200, {b"cf-mitigated": b"challenge"}, b"<html></html>", "Cloudflare"),
])
def test_challenge_pages_are_recognised(status, headers, body, what):
    assert what in (challenge_page(status, headers, body) or "")


def test_an_ordinary_page_with_cloudflares_scripts_or_a_plain_403_is_no_challenge():
    page = b"<html><head><script src='/cdn-cgi/challenge-platform/scripts/jsd/main.js'></script></head><body>" + \
        b"<p>news</p>" * 5000 + b"</body></html>"
    assert challenge_page(200, {}, page) is None
    assert challenge_page(403, {}, b"<html><body><h1>Forbidden</h1></body></html>") is None
