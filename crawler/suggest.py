"""``dealwatch sources suggest``: which outlets the search sources keep finding, ready to add as sources.

Role in the data flow: from the archive back to ``seeds/sources.yaml``. The archive knows every
publisher domain the search sources surfaced (``found_via: search:*``: articles, relevant
articles, language, last seen; :meth:`indexer.archive.Archive.search_publishers`). For the
domains no configured source covers yet, each site is asked once, politely, whether it
advertises a feed (``<link rel="alternate">`` on its home page) or sitemaps (``Sitemap:`` lines
of its robots.txt, read case-insensitively), and a ready-to-paste YAML entry is printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import yaml

from crawler.source_check import PoliteFetcher, robots_sitemaps
from crawler.sources import Source

_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/xml", "text/xml")


@dataclass
class Suggestion:
    domain: str
    site_name: str
    articles: int
    relevant_articles: int
    lang: str
    last_seen: datetime | None
    homepage: str
    found_by: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def name(self) -> str:
        base = self.site_name or self.domain.removeprefix("www.").split(".")[0]
        slug = re.sub(r"[^a-z0-9]+", "-", base.lower().translate(str.maketrans("ąćęłńóśźż", "acelnoszz"))).strip("-")
        return slug or re.sub(r"[^a-z0-9]+", "-", self.domain).strip("-")

    def entry(self) -> dict:
        out: dict = {"name": self.name, "language": self.lang or "en", "homepage": self.homepage}
        if self.feeds:
            out["feeds"] = self.feeds
        if self.sitemaps:
            out["sitemaps"] = self.sitemaps
        out["allowed_domains"] = [self.domain.removeprefix("www.")]
        return out

    def yaml(self) -> str:
        seen = f"{self.last_seen:%Y-%m-%d}" if self.last_seen else "?"
        head = (f"  # {self.site_name or self.domain}: {self.articles} articles ({self.relevant_articles} relevant) "
                f"found by {', '.join(self.found_by)}, last seen {seen}"
                + (f"; {self.note}" if self.note else ""))
        body = yaml.safe_dump([self.entry()], sort_keys=False, allow_unicode=True, width=200)
        return head + "\n" + "\n".join("  " + line for line in body.rstrip().splitlines())


def advertised_feeds(html: str, base: str) -> list[str]:
    """The feeds a page advertises with ``<link rel="alternate" type="application/rss+xml" href>``."""
    from lxml import html as lxml_html
    try:
        root = lxml_html.fromstring(html)
    except (ValueError, TypeError):
        return []
    out = []
    for link in root.xpath("//link[@href]"):
        rel = (link.get("rel") or "").lower().split()
        ctype = (link.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rel and ctype in _FEED_TYPES:
            out.append(urljoin(base, link.get("href").strip()))
    return list(dict.fromkeys(out))


def covered(domain: str, sources: list[Source]) -> bool:
    """Whether a configured site source already crawls this domain."""
    return any(not s.is_search and s.allowed_domains and s.allows(f"http://{domain}/") for s in sources)


def suggestions(publishers: list[dict], sources: list[Source], fetcher: PoliteFetcher, limit: int = 20
                ) -> list[Suggestion]:
    """The publishers search sources surfaced that no source covers, each with its advertised feeds and sitemaps."""
    out = []
    for p in publishers:
        if covered(p["domain"], sources):
            continue
        parts = urlsplit(p["url"] or f"https://{p['domain']}/")
        home = f"{parts.scheme}://{parts.netloc}/"
        s = Suggestion(domain=p["domain"], site_name=p["site_name"], articles=p["articles"],
                       relevant_articles=p["relevant_articles"], lang=p["lang"], last_seen=p["last_seen"],
                       homepage=home, found_by=[v.removeprefix("search:") for v in p["found_via"]
                                                 if v.startswith("search:")])
        robots = fetcher.get(urljoin(home, "/robots.txt"))
        if robots.status == 200:
            s.sitemaps = robots_sitemaps(robots.body.decode("utf-8", "replace"))
        page = fetcher.get(home)
        if page.blocked:
            s.note = f"its home page is blocked ({page.blocked})"
        elif page.status == 200:
            s.feeds = advertised_feeds(page.body.decode("utf-8", "replace"), page.final_url or home)
        elif page.status is None:
            s.note = f"not reachable ({page.error})"
        else:
            s.note = f"home page answered HTTP {page.status}"
        if not (s.feeds or s.sitemaps) and not s.note:
            s.note = "no feed or sitemap advertised: add sections: [...] by hand"
        out.append(s)
        if len(out) >= limit:
            break
    return out
