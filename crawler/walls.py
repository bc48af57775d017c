"""Walls of the real web: consent walls, interstitials and bot-protection challenge pages.

Role in the data flow: pure tests on a response, used by the downloader middlewares
(:mod:`crawler.middlewares`: a redirect to a consent host, a challenge page that blocks a
domain) and by extraction (:mod:`crawler.extract`: a page whose text is a cookie/consent
notice is dropped as ``consent_wall`` and never indexed as an article).

A consent wall is recognised by its host (``consent.google.com``, ``consent.yahoo.com``,
``guce.yahoo.com``, …) or by its text: one of the phrases such walls open with ("Zanim
przejdziesz do serwisu", "Before you continue", "We value your privacy", …) while what is left
once the consent paragraphs are set aside is too short to be an article. A page with a cookie
banner above a real article keeps its article.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

CONSENT_HOSTS = ("consent.google.com", "consent.youtube.com", "consent.yahoo.com", "guce.yahoo.com",
                 "consent.cookiebot.com", "myprivacy.dpgmedia.nl", "consent.dailymotion.com")

# phrases a consent wall or an interstitial opens with (lower case)
STRONG = (
    "zanim przejdziesz do serwisu", "zanim przejdziesz dalej", "przed przejściem do serwisu",
    "twoja prywatność jest dla nas ważna", "dbamy o twoją prywatność", "wyrażam zgodę",
    "before you continue", "we value your privacy", "your privacy choices", "we care about your privacy",
    "yahoo is part of the yahoo family of brands", "manage your privacy settings",
    "bevor sie fortfahren", "wir respektieren ihre privatsphäre", "avant de continuer",
    "please enable javascript", "enable javascript and cookies to continue", "you are being redirected",
    "włącz obsługę javascript",
)
# words a consent paragraph is made of (lower case stems)
WEAK = ("cookie", "zgod", "zgód", "consent", "prywatno", "privacy", "partner", "rodo", "gdpr", "przetwarza",
        "akceptuj", "accept", "reject", "odrzuć", "personal data", "dane osobowe", "datenschutz", "javascript",
        "tracking", "advertis", "reklam")

_PARAGRAPHS = re.compile(r"\n\s*\n|\n")


def is_consent_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in CONSENT_HOSTS or host.startswith("consent.")


def _consent_paragraph(p: str) -> bool:
    low = p.lower()
    return any(s in low for s in STRONG) or sum(w in low for w in WEAK) >= 2


def consent_wall(text: str, min_text_chars: int = 200) -> str | None:
    """Why ``text`` (a page's article or visible text) is a consent wall or interstitial, or None."""
    low = (text or "").lower()
    strong = next((s for s in STRONG if s in low), None)
    paragraphs = [p.strip() for p in _PARAGRAPHS.split(text or "") if p.strip()]
    rest = sum(len(p) for p in paragraphs if not _consent_paragraph(p))
    if rest >= max(min_text_chars, 200):
        return None   # an article with a consent notice around it
    if strong:
        return f"consent wall or interstitial ({strong!r}, {rest} characters of other text)"
    weak = sum(w in low for w in WEAK)
    if weak >= 3 and paragraphs:
        return f"cookie/consent notice only ({rest} characters of other text)"
    return None


# --- bot protection ----------------------------------------------------------------------

_CHALLENGES = (
    (re.compile(rb"<title>\s*just a moment\.\.\.\s*</title>", re.I), "Cloudflare challenge"),
    (re.compile(rb"challenges\.cloudflare\.com|cf-chl-|/cdn-cgi/challenge-platform/", re.I), "Cloudflare challenge"),
    (re.compile(rb"attention required! \| cloudflare", re.I), "Cloudflare block page"),
    (re.compile(rb"captcha-delivery\.com|geo\.captcha-delivery", re.I), "DataDome captcha"),
    (re.compile(rb"px-captcha|_pxcaptcha|perimeterx", re.I), "PerimeterX captcha"),
    (re.compile(rb"_incapsula_resource|incapsula incident id", re.I), "Imperva/Incapsula block"),
    (re.compile(rb"<title>\s*access denied\s*</title>.*reference\s*#", re.I | re.S), "Akamai block page"),
)
_CHALLENGE_HEADERS = ((b"cf-mitigated", b"challenge", "Cloudflare challenge"), (b"x-datadome", b"", "DataDome"),
                      (b"x-dd-b", b"", "DataDome"))


def challenge_page(status: int, headers, body: bytes) -> str | None:
    """The bot protection a response comes from, when it is a challenge or block page (else None).

    ``headers`` is a Scrapy ``Headers`` (or any mapping of bytes names to bytes values)."""
    for name, value, what in _CHALLENGE_HEADERS:
        got = headers.get(name) if headers is not None else None
        if got is not None and (not value or value in got.lower()):
            if status in (401, 403, 429, 503) or value:
                return what
    if status not in (200, 401, 403, 429, 503):
        return None
    if status == 200 and len(body) > 30000:
        return None   # a real page (Cloudflare's scripts sit in many ordinary pages); challenges are small
    head = body[:20000]
    for pattern, what in _CHALLENGES:
        if pattern.search(head):
            return what
    return None
