"""The search web: a local news-search engine and the publishers its results lead to.

Role in the data flow: the "real web" of search sources, served over real HTTP on loopback
(data in ``seeds/demo/search-web.yaml``, texts written for this project). One host is the
engine; it answers

- ``/news/search?q=…&format=rss`` in Bing News' format (``xmlns:News``, ``<News:Source>``,
  ``apiclick.aspx`` links carrying the publisher URL in ``url=``),
- ``/rss/search?q=…&hl=…`` in Google News' format (``news.google.com/rss/articles/<id>`` links,
  old ids with the URL in their base64, new opaque ``AU_yqL…`` ids, ``<source url>``, titles
  ending in " - Publisher"),
- ``/alerts/feeds/…`` as a Google Alerts Atom feed (``google.com/url?…&url=…`` links).

The other hosts are publishers with the manners of the real web: feeds as published (a BOM
and a blank line before ``<?xml``, links in CDATA, relative links; an Atom feed without its
namespace, links relative to ``xml:base``), a sitemap index with a ``.xml.gz`` child, pages that
write dates without a zone, a consent wall, a redirect to ``consent.google.com``, meta refreshes
inside and outside the site, a host that answers the first request of each page with 429 and
``Retry-After: 3`` (and 429 again to whoever asks before the 3 s are over), and one that answers
403 to everything. Google's two decoder endpoints are
stood in for by :mod:`demo_sites.google_standin`, which reads :meth:`SearchWeb.google_ids`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import math
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from xml.sax.saxutils import escape as xml_escape
from zoneinfo import ZoneInfo

import yaml

from dealwatch.dates import UTC, parse_datetime, to_iso
from dealwatch.settings import get_settings
from demo_sites.loopback import LoopbackServers, Request, RequestLog, Response

HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
XML = "application/xml; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
WARSAW = ZoneInfo("Europe/Warsaw")
RETRY_AFTER = 3


def default_web_file() -> Path:
    return get_settings().seeds_dir / "demo" / "search-web.yaml"


def _words(query: str) -> tuple[str, ...]:
    return tuple(sorted(query.lower().split()))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def old_google_id(url: str) -> str:
    """A Google News id as written before mid-2024: the URL inside (protobuf ``08 13 22 <len> <url>``)."""
    raw = url.encode()
    return base64.urlsafe_b64encode(b"\x08\x13\x22" + _varint(len(raw)) + raw + b"\xd2\x01\x00").decode().rstrip("=")


def new_google_id(seed: str) -> str:
    """An opaque Google News id as written since mid-2024 (``AU_yqL…`` inside, no URL)."""
    token = b"AU_yqL" + base64.urlsafe_b64encode(hashlib.sha1(seed.encode()).digest() * 3).rstrip(b"=")
    return base64.urlsafe_b64encode(b"\x08\x13\x22" + _varint(len(token)) + token).decode().rstrip("=")


@dataclass(frozen=True)
class WebArticle:
    publisher: str
    slug: str
    title: str
    published: datetime
    paragraphs: tuple[str, ...]
    url: str
    path: str


@dataclass
class Publisher:
    name: str
    title: str
    host: str
    language: str
    port: int
    feed: str = "none"
    sitemap: str = ""
    disallow: tuple[str, ...] = ()
    behaviour: str = ""
    local_dates: bool = False
    consent_wall: str = ""
    consent_redirect: str = ""
    refresh: dict[str, str] = field(default_factory=dict)
    articles: list[WebArticle] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"


@dataclass(frozen=True)
class Item:
    """One result of a search: where it leads (None: a broken link), its title, outlet, id style."""
    url: str | None
    title: str
    outlet: str
    id_style: str = "old"        # Google News: old | new | unknown
    published: datetime | None = None


@dataclass
class Search:
    engine: str
    query: str = ""
    feed: str = ""               # the path of a Google Alerts feed
    items: list[Item] = field(default_factory=list)


class SearchWeb:
    """The engine and publishers of ``seeds/demo/search-web.yaml`` on one port (every host its own
    loopback address). ``requests`` is the log of what was served."""

    def __init__(self, port: int, web_file: Path | None = None, request_log: RequestLog | None = None):
        self.port = port
        data = yaml.safe_load(Path(web_file or default_web_file()).read_text(encoding="utf-8"))
        self.engine_host = data["engine"]["host"]
        self.engine_title = data["engine"]["title"]
        self.proxy_host = data["proxy_host"]
        self.publishers = [self._publisher(p) for p in data["publishers"]]
        self._by_host = {p.host: p for p in self.publishers}
        by_ref = {f"{a.publisher}/{a.slug}": a for p in self.publishers for a in p.articles}
        self.searches = [self._search(s, by_ref) for s in data["searches"]]
        self.log = request_log or RequestLog()
        self._throttled: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        hosts = {self.engine_host: "search-engine", **{p.host: p.name for p in self.publishers}}
        self._servers = LoopbackServers(hosts, port, self._respond, self.log, server_version="SearchWeb/1.0",
                                        full_target=True)

    # --- loading -----------------------------------------------------------------------
    def _publisher(self, raw: dict[str, Any]) -> Publisher:
        pub = Publisher(name=raw["name"], title=raw["title"], host=raw["host"], language=raw["language"],
                        port=self.port, feed=raw.get("feed", "none"), sitemap=raw.get("sitemap", ""),
                        disallow=tuple(raw.get("disallow", ())), behaviour=raw.get("behaviour", ""),
                        local_dates=bool(raw.get("local_dates")), consent_wall=raw.get("consent_wall", ""),
                        consent_redirect=raw.get("consent_redirect", ""))
        pub.refresh = {r["path"]: self._fill(r["to"]) for r in raw.get("refresh", [])}
        for a in raw.get("articles", []):
            published = parse_datetime(a["date"])
            path = f"/{published.astimezone(WARSAW if pub.local_dates else published.tzinfo):%Y/%m}/{a['slug']}/"
            pub.articles.append(WebArticle(pub.name, a["slug"], a["title"], published,
                                           tuple(" ".join(p.split()) for p in re.split(r"\n\s*\n", a["body"].strip())),
                                           pub.url(path), path))
        return pub

    def _fill(self, text: str) -> str:
        return text.replace("{port}", str(self.port))

    def _search(self, raw: dict[str, Any], by_ref: dict[str, WebArticle]) -> Search:
        search = Search(engine=raw["engine"], query=raw.get("query", ""), feed=raw.get("feed", ""))
        for it in raw["items"]:
            if it.get("article"):
                a = by_ref[it["article"]]
                pub = next(p for p in self.publishers if p.name == a.publisher)
                url = a.url + it.get("suffix", "")
                item = Item(url, a.title, it.get("outlet", pub.title), it.get("id", "old"), a.published)
            elif it.get("broken") or it.get("id") == "unknown":
                item = Item(None, it["title"], it.get("outlet", ""), it.get("id", "old"))
            else:
                item = Item(self._fill(it["url"]), it["title"], it.get("outlet", ""), it.get("id", "old"),
                            parse_datetime(it["date"]) if it.get("date") else None)
            search.items.append(item)
        return search

    # --- what tests and the stand-in read ------------------------------------------------
    @property
    def engine_url(self) -> str:
        return f"http://{self.engine_host}:{self.port}"

    def publisher(self, name: str) -> Publisher:
        return next(p for p in self.publishers if p.name == name)

    def search(self, engine: str, query: str = "") -> Search:
        return next(s for s in self.searches if s.engine == engine and (not query or _words(s.query) == _words(query)))

    def google_ids(self) -> dict[str, str]:
        """New Google News ids -> the publisher URL Google's decoder answers for them."""
        return {new_google_id(it.url): it.url for s in self.searches if s.engine == "google_news"
                for it in s.items if it.url and it.id_style == "new"}

    @property
    def requests(self) -> list[Request]:
        return self.log.requests

    def clear_requests(self) -> None:
        self.log.clear()

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> "SearchWeb":
        self._servers.start()
        return self

    def stop(self) -> None:
        self._servers.stop()

    def __enter__(self) -> "SearchWeb":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- answers -------------------------------------------------------------------------
    def _respond(self, host: str, target: str) -> Response:
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        if host == self.engine_host:
            return self._engine(path, query)
        return self._publisher_answer(self._by_host[host], path)

    def _engine(self, path: str, query: dict[str, list[str]]) -> Response:
        if path == "/robots.txt":
            return Response(200, TEXT, b"User-agent: *\nAllow: /\n")
        q = (query.get("q") or [""])[0]
        if path == "/news/search":
            found = [s for s in self.searches if s.engine == "bing_news" and _words(s.query) == _words(q)]
            return Response(200, RSS, render_bing(q, found[0].items if found else [], self.engine_url).encode())
        if path == "/rss/search":
            found = [s for s in self.searches if s.engine == "google_news" and _words(s.query) == _words(q)]
            return Response(200, RSS, render_google_news(q, found[0].items if found else []).encode())
        for s in self.searches:
            if s.engine == "google_alerts" and s.feed == path:
                return Response(200, ATOM, render_alerts(s).encode())
        return Response(404, HTML, b"<html><body><h1>Not found</h1></body></html>")

    def _throttle(self, host: str, path: str) -> int:
        """Seconds a client must still wait for this page (0: serve it): the first request of each
        page starts a wait of RETRY_AFTER seconds, and asking again before it is over is refused too."""
        now = time.monotonic()
        with self._lock:
            first = self._throttled.setdefault((host, path), now)
        return math.ceil(RETRY_AFTER - (now - first)) if now - first < RETRY_AFTER else 0

    def _publisher_answer(self, pub: Publisher, path: str) -> Response:
        if pub.behaviour == "deny":
            return Response(403, HTML, b"<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1>"
                                       b"<p>You do not have access to this page.</p></body></html>")
        if path == "/robots.txt":
            lines = ["User-agent: *", *([f"Disallow: {d}" for d in pub.disallow] or ["Disallow:"])]
            if pub.sitemap:
                lines.append(f"SITEMAP: {pub.url('/sitemap.xml')}")
            return Response(200, TEXT, ("\n".join(lines) + "\n").encode())
        if pub.behaviour == "throttle":
            wait = self._throttle(pub.host, path)
            if wait:
                return Response(429, HTML, b"<html><body><h1>Too many requests</h1></body></html>",
                                {"Retry-After": str(wait)})
        if path == "/":
            return Response(200, HTML, render_home(pub).encode())
        if path == "/rss" and pub.feed != "none":     # the feed's old address
            return Response(301, HTML, b"", {"Location": pub.url("/feed.xml")})
        if path == "/feed.xml" and pub.feed == "rss-quirks":
            return Response(200, RSS, render_quirky_rss(pub))
        if path == "/feed.xml" and pub.feed == "atom-no-namespace":
            return Response(200, ATOM, render_plain_atom(pub).encode())
        if path == "/sitemap.xml" and pub.sitemap:
            return Response(200, XML, render_sitemap_index(pub).encode())
        if path == "/sitemaps/articles-1.xml.gz" and pub.sitemap:
            return Response(200, "application/x-gzip", gzip.compress(render_urlset(pub).encode()))
        if pub.consent_wall and path == pub.consent_wall:
            return Response(200, HTML, render_consent_wall(pub).encode())
        if pub.consent_redirect and path == pub.consent_redirect:
            target = "https://consent.google.com/m?continue=" + quote(pub.url(path), safe="") + "&gl=PL&hl=pl"
            return Response(302, HTML, b"", {"Location": target})
        if path in pub.refresh:
            return Response(200, HTML, render_refresh(pub, pub.refresh[path]).encode())
        for a in pub.articles:
            if a.path.rstrip("/") == path.rstrip("/"):
                return Response(200, HTML, render_page(pub, a).encode())
        if any(path.startswith(d) for d in pub.disallow):
            return Response(200, HTML, render_page(pub, WebArticle(pub.name, "members", "Members only", pub.articles[0].published,
                                                                  ("For members.",) * 3, pub.url(path), path)).encode())
        return Response(404, HTML, b"<html><body><h1>Not found</h1></body></html>")


# --- the engine's three formats --------------------------------------------------------------

def _bing_link(url: str) -> str:
    return ("http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=" + hashlib.md5(url.encode()).hexdigest()[:16]
            + "&url=" + quote(url, safe="") + "&c=" + str(len(url)) + "&mkt=en-us")


def render_bing(query: str, items: list[Item], engine_url: str) -> str:
    out = []
    for it in items:
        link = _bing_link(it.url) if it.url else "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=0&c=0"
        date = format_datetime(it.published or datetime(2026, 10, 5, 8, 0, tzinfo=WARSAW), usegmt=False)
        out.append(f"<item><title>{xml_escape(it.title)}</title><link>{xml_escape(link)}</link>"
                   f"<description>{xml_escape(it.title)}.</description><pubDate>{date}</pubDate>"
                   f"<News:Source>{xml_escape(it.outlet)}</News:Source></item>")
    ns = xml_escape(f"{engine_url}/news/search?q={quote(query)}&format=rss")
    return (f'<?xml version="1.0" encoding="utf-8" ?><rss version="2.0" xmlns:News="{ns}"><channel>'
            f"<title>{xml_escape(query)} - BingNews</title><link>{ns}</link>"
            f"<description>Search results</description>{''.join(out)}</channel></rss>")


def render_google_news(query: str, items: list[Item]) -> str:
    out = []
    for n, it in enumerate(items):
        if it.id_style == "unknown":
            gid = new_google_id(f"unknown-{n}-{query}")
        elif it.id_style == "new":
            gid = new_google_id(it.url)
        else:
            gid = old_google_id(it.url)
        link = f"https://news.google.com/rss/articles/{gid}?oc=5"
        site = f"http://{urlsplit(it.url).netloc}" if it.url else "https://example.invalid"
        date = format_datetime((it.published or datetime(2026, 7, 16, 12, 0, tzinfo=WARSAW)).astimezone(UTC), usegmt=True)
        out.append(f"<item><title>{xml_escape(it.title)} - {xml_escape(it.outlet)}</title><link>{link}</link>"
                   f'<guid isPermaLink="false">{gid}</guid><pubDate>{date}</pubDate>'
                   f"<description>{xml_escape(html.escape(it.title))}</description>"
                   f'<source url="{xml_escape(site)}">{xml_escape(it.outlet)}</source></item>')
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><rss version="2.0" '
            'xmlns:media="http://search.yahoo.com/mrss/"><channel><generator>NFE/5.0</generator>'
            f'<title>"{xml_escape(query)}" - Google News</title><link>https://news.google.com/search?q={quote(query)}</link>'
            f"<language>pl</language>{''.join(out)}</channel></rss>")


def render_alerts(search: Search) -> str:
    out = []
    for n, it in enumerate(search.items):
        link = "https://www.google.com/url?rct=j&sa=t&url=" + quote(it.url or "", safe="") + "&ct=ga&cd=CAIyGg&usg=AOvVaw"
        when = to_iso(it.published or datetime(2026, 10, 6, tzinfo=WARSAW)).replace("+00:00", "Z")
        out.append(f"<entry><id>tag:google.com,2013:googlealerts/feed:{n}</id><title type=\"html\">"
                   f"{xml_escape(html.escape(it.title))}</title><link href=\"{xml_escape(link)}\"/>"
                   f"<published>{when}</published><updated>{when}</updated>"
                   f"<content type=\"html\">{xml_escape(it.title)}</content><author><name></name></author></entry>")
    return ('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:idx="urn:atom-extension:indexing"><id>tag:google.com,2005:reader/user/alerts</id>'
            '<title>Google Alert - platform banks</title><link href="https://www.google.com/alerts/feeds/x" rel="self"/>'
            f"<updated>2026-10-07T00:00:00Z</updated>{''.join(out)}</feed>")


# --- the publishers' documents ------------------------------------------------------------

def _date_attr(pub: Publisher, when: datetime) -> str:
    if pub.local_dates:   # written the way some Polish sites do: Warsaw time, no zone
        return when.astimezone(WARSAW).strftime("%Y-%m-%d %H:%M:%S")
    return to_iso(when)


def render_page(pub: Publisher, a: WebArticle) -> str:
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in a.paragraphs)
    banner = ("Ta strona używa plików cookie. Korzystając z niej, akceptujesz naszą politykę prywatności."
              if pub.language == "pl" else "This site uses cookies. By reading on you accept our privacy policy.")
    return (f'<!DOCTYPE html><html lang="{pub.language}"><head><meta charset="utf-8"><title>{html.escape(a.title)} | '
            f'{html.escape(pub.title)}</title><meta property="og:site_name" content="{html.escape(pub.title)}">'
            f'<link rel="canonical" href="{a.url}"><meta property="article:published_time" '
            f'content="{_date_attr(pub, a.published)}"><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
            f'</head><body><div class="cookies">{html.escape(banner)}</div><header><a href="/">{html.escape(pub.title)}'
            f'</a></header><main><article><h1>{html.escape(a.title)}</h1><time datetime="{_date_attr(pub, a.published)}">'
            f'{a.published:%Y-%m-%d}</time>{paras}</article></main><footer>&copy; {html.escape(pub.title)}</footer>'
            f"</body></html>")


def render_home(pub: Publisher) -> str:
    feed = '<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml">' if pub.feed != "none" else ""
    links = "".join(f'<li><a href="{a.path}">{html.escape(a.title)}</a></li>' for a in pub.articles)
    return (f'<!DOCTYPE html><html lang="{pub.language}"><head><meta charset="utf-8"><title>{html.escape(pub.title)}'
            f"</title>{feed}</head><body><h1>{html.escape(pub.title)}</h1><ul>{links}</ul></body></html>")


def render_quirky_rss(pub: Publisher) -> bytes:
    """An RSS feed as some sites publish it: a BOM and a blank line before ``<?xml``, links in CDATA,
    relative links (resolved against the feed's URL)."""
    items = []
    for n, a in enumerate(pub.articles):
        link = a.path if n % 2 else a.url + "?utm_source=rss&utm_medium=feed"
        items.append(f"<item><title><![CDATA[{a.title}]]></title><link><![CDATA[{link}]]></link>"
                     f"<pubDate>{format_datetime(a.published)}</pubDate></item>")
    text = (f'\n<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>{xml_escape(pub.title)}'
            f"</title><link>{pub.base_url}</link>{''.join(items)}</channel></rss>\n")
    return b"\xef\xbb\xbf" + text.encode()


def render_plain_atom(pub: Publisher) -> str:
    """An Atom feed without the Atom namespace, its links relative to ``xml:base``."""
    entries = "".join(f"<entry><title>{xml_escape(a.title)}</title><link rel=\"alternate\" href=\"{a.path.lstrip('/')}\"/>"
                      f"<id>{a.url}</id><updated>{to_iso(a.published)}</updated></entry>" for a in pub.articles)
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xml:base="{pub.base_url}"><title>{xml_escape(pub.title)}'
            f"</title><updated>{to_iso(max(a.published for a in pub.articles))}</updated>{entries}</feed>")


def render_sitemap_index(pub: Publisher) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{pub.url('/sitemaps/articles-1.xml.gz')}</loc></sitemap></sitemapindex>")


def render_urlset(pub: Publisher) -> str:
    urls = "".join(f"<url><loc>{a.url}</loc><lastmod>{_date_attr(pub, a.published)}</lastmod></url>"
                   for a in pub.articles)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


def render_consent_wall(pub: Publisher) -> str:
    return ('<!DOCTYPE html><html lang="pl"><head><meta charset="utf-8"><title>Twoja prywatność</title></head><body>'
            '<div class="consent"><h1>Zanim przejdziesz do serwisu</h1>'
            "<p>Zanim przejdziesz do serwisu, prosimy o zgodę na przetwarzanie danych przez nas i naszych partnerów. "
            "Pliki cookie i podobne technologie pomagają nam dopasować treści i reklamy.</p>"
            "<p>Możesz zaakceptować wszystkie zgody albo przejść do ustawień prywatności, gdzie wybierzesz, "
            "którym partnerom pozwalasz przetwarzać swoje dane. Zgodę możesz wycofać w każdej chwili.</p>"
            '<p>Administratorem danych jest wydawca serwisu. Szczegóły w polityce prywatności i RODO.</p>'
            '<button>Akceptuję i przechodzę do serwisu</button><button>Ustawienia zaawansowane</button></div>'
            "</body></html>")


def render_refresh(pub: Publisher, target: str) -> str:
    return (f'<!DOCTYPE html><html lang="{pub.language}"><head><meta charset="utf-8">'
            f'<meta http-equiv="refresh" content="0; url={html.escape(target)}"><title>Przekierowanie</title></head>'
            f'<body><p>Tekst przeniesiono: <a href="{html.escape(target)}">przejdź dalej</a>.</p></body></html>')
