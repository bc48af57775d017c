"""Search items -> the publisher's URL: the links of news-search feeds resolved, locally when possible.

Role in the data flow: between a search source's feed (parsed by the spider) and the article
request on the publisher's own domain. Each engine hides the publisher's address differently:

- Bing News: ``…/news/apiclick.aspx?…&url=<percent-encoded URL>&…`` — the ``url`` parameter;
- Google Alerts: ``https://www.google.com/url?…&url=<URL>&…`` — the same (``q`` in older links);
- Google News: ``https://news.google.com/rss/articles/<id>?oc=5``. Ids from before mid-2024 carry
  the URL in their base64 (a protobuf message ``08 13 22 <length> <url> …``) and are decoded here;
  newer ids are opaque (the message holds ``AU_yqL…`` instead of a URL) and the page does not
  redirect: :class:`GoogleNewsDecoder` asks Google the way its own page does (the PyPI package
  ``googlenewsdecoder``: one article-page request for a signature, one ``batchexecute`` POST),
  rate-limited; the spider caches every answer in the crawl state so no link is asked twice.

The item also names its outlet: Google's ``<source url="…">Name</source>``, Bing's
``<News:Source>``, or the " - Publisher" suffix Google News adds to titles (:func:`outlet_of`).
Everything here but the decoder is pure and fetches nothing.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

GOOGLE_NEWS_HOST = "news.google.com"
_NEW_ID_MARK = b"AU_yqL"


@dataclass(frozen=True)
class Resolution:
    """Where an item link leads: the publisher URL, or that Google must be asked, or why not."""

    url: str | None = None
    ask_google: bool = False        # an opaque Google News id: the decoder must resolve it
    reason: str = ""                # why it cannot be resolved (url None, ask_google False)


def _param(link: str, *names: str) -> str | None:
    query = parse_qs(urlsplit(link).query)
    for name in names:
        values = query.get(name) or query.get(name.upper())
        if values and values[0].startswith(("http://", "https://")):
            return values[0]
    return None


def google_news_id(link: str) -> str | None:
    """The article id of a Google News item link (``/rss/articles/<id>``, ``/articles/<id>``, ``/read/<id>``)."""
    parts = urlsplit(link)
    segments = [s for s in parts.path.split("/") if s]
    if (parts.hostname or "").lower() == GOOGLE_NEWS_HOST and len(segments) >= 2 and \
            segments[-2] in ("articles", "read"):
        return segments[-1]
    return None


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while i < len(data):
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
    raise ValueError("truncated varint")


def _protobuf_strings(data: bytes):
    """The length-delimited fields of a protobuf message (top level), as bytes."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        wire = key & 7
        if wire == 0:
            _, i = _varint(data, i)
        elif wire == 2:
            n, i = _varint(data, i)
            yield data[i:i + n]
            i += n
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unknown wire type {wire}")


def decode_google_news_id(article_id: str) -> Resolution:
    """An old id: the URL in its base64; a new id: ask Google; anything else: unresolved."""
    raw = article_id.split("?")[0]
    try:
        data = base64.b64decode(raw + "=" * (-len(raw) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return Resolution(reason=f"Google News id is not base64: {article_id[:40]}")
    try:
        for field in _protobuf_strings(data):
            if field.startswith((b"http://", b"https://")):
                return Resolution(url=field.decode("utf-8", "replace"))
            if field.startswith(_NEW_ID_MARK):
                return Resolution(ask_google=True)
    except ValueError:
        pass
    # some ids carry the URL with trailing bytes a strict walk trips over: look for it directly
    for scheme in (b"https://", b"http://"):
        at = data.find(scheme)
        if at >= 0:
            end = at
            while end < len(data) and 0x21 <= data[end] < 0x7F:
                end += 1
            return Resolution(url=data[at:end].decode("ascii"))
    if _NEW_ID_MARK in data:
        return Resolution(ask_google=True)
    return Resolution(reason=f"Google News id carries no URL: {article_id[:40]}")


def resolve_link(link: str) -> Resolution:
    """Resolve an item link without fetching anything (see the module's docstring)."""
    parts = urlsplit(link)
    path = parts.path.lower()
    if path.endswith("/apiclick.aspx"):                               # Bing News
        url = _param(link, "url")
        return Resolution(url=url) if url else Resolution(reason="Bing link without a url parameter")
    if path == "/url" and "google." in (parts.hostname or ""):        # Google Alerts (and Google redirects)
        url = _param(link, "url", "q")
        return Resolution(url=url) if url else Resolution(reason="Google redirect without a url parameter")
    gid = google_news_id(link)
    if gid is not None:
        return decode_google_news_id(gid)
    if (parts.hostname or "").lower() == GOOGLE_NEWS_HOST:
        return Resolution(reason="a Google News link that is no article link")
    if parts.scheme in ("http", "https") and parts.hostname:
        return Resolution(url=link)                                   # already the publisher's link
    return Resolution(reason="not an http(s) link")


def split_title(title: str, outlet: str = "") -> tuple[str, str]:
    """``"Headline - Publisher"`` -> (``"Headline"``, ``"Publisher"``) as Google News writes titles;
    with ``outlet`` known, only that suffix is cut."""
    title = (title or "").strip()
    if outlet and title.endswith(" - " + outlet):
        return title[: -len(outlet) - 3].rstrip(), outlet
    if not outlet and " - " in title:
        head, _, tail = title.rpartition(" - ")
        if head and 0 < len(tail) <= 60:
            return head.rstrip(), tail.strip()
    return title, outlet


def outlet_of(entry: Any) -> tuple[str, str]:
    """(outlet name, outlet URL) of a feedparser entry: ``<source url>``, ``<News:Source>``, title suffix."""
    name, url = "", ""
    src = entry.get("source") if hasattr(entry, "get") else None
    if src:
        name = str(src.get("title") or "").strip()
        url = str(src.get("href") or src.get("url") or "").strip()
    name = name or str(entry.get("news_source") or "").strip()
    if not name:
        _, name = split_title(entry.get("title") or "")
    return name, url


class GoogleNewsDecoder:
    """Opaque Google News ids resolved through the ``googlenewsdecoder`` package, politely.

    ``interval`` seconds pass between the article-page requests (and between batches); ``proxy``
    is the source's proxy. Blocking: the spider calls it in a thread.
    """

    def __init__(self, proxy: str = "", interval: float = 1.0, timeout: float = 10.0, user_agent: str = ""):
        self.proxy = proxy or None
        self.interval = interval
        self.timeout = timeout
        self.user_agent = user_agent or None
        self._last = 0.0

    def decode(self, article_ids: list[str]) -> dict[str, Resolution]:
        """Article id -> its resolution (a URL, or the decoder's reason)."""
        from googlenewsdecoder import GoogleDecoder

        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        links = [f"https://{GOOGLE_NEWS_HOST}/rss/articles/{i}" for i in article_ids]
        out: dict[str, Resolution] = {}
        try:
            with GoogleDecoder(proxy=self.proxy, timeout=self.timeout, user_agent=self.user_agent) as decoder:
                answers = decoder.decode_google_news_urls(links, interval=self.interval or None)
        except Exception as exc:  # noqa: BLE001 - the package's own failure: every id of the batch stays unresolved
            log.warning("Google News decoder failed for %d ids: %s: %s", len(article_ids), type(exc).__name__, exc)
            answers = [{"success": False, "message": f"{type(exc).__name__}: {exc}"}] * len(article_ids)
        finally:
            self._last = time.monotonic()
        for art_id, answer in zip(article_ids, answers):
            url = answer.get("decoded_url") if answer.get("success") else None
            if url and str(url).startswith(("http://", "https://")):
                out[art_id] = Resolution(url=str(url))
            else:
                out[art_id] = Resolution(reason=f"Google News decoder: {answer.get('message') or 'no URL'}")
        return out
