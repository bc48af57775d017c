"""The shipped real-world source list (seeds/sources.yaml) is well-formed and schedulable.

These outlets cannot be fetched offline, so the test checks the file itself: it loads through
the same loader the crawler uses, names are unique, every URL is an absolute http(s) URL that
the source's allowed_domains cover, languages are English or Polish, and every schedule turns
into a scheduler trigger.
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest
import yaml

from crawler.scheduler import trigger_for
from crawler.sources import load_sources
from dealwatch.settings import SEEDS_DIR

SOURCES_FILE = SEEDS_DIR / "sources.yaml"


@pytest.fixture(scope="module")
def sources():
    return load_sources(SOURCES_FILE)


@pytest.fixture(scope="module")
def raw_entries():
    return yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))["sources"]


def _urls(source) -> list[str]:
    return [u for u in (source.homepage, *source.sections, *source.feeds, *source.sitemaps) if u]


def test_every_entry_loads_and_names_are_unique(sources, raw_entries):
    names = [e["name"] for e in raw_entries]
    assert len(names) == len(set(names))
    assert {s.name for s in sources} <= set(names)
    assert len(sources) >= 20


def test_every_source_has_a_feed_or_sitemap_with_absolute_https_urls(sources):
    for source in sources:
        assert source.feeds or source.sitemaps, source.name
        for url in _urls(source):
            parts = urlsplit(url)
            assert parts.scheme == "https" and parts.hostname and "." in parts.hostname, (source.name, url)
            assert " " not in url, (source.name, url)


def test_allowed_domains_cover_every_source_url(sources):
    for source in sources:
        if source.is_search:   # fetched on the publishers' own domains
            assert not source.allowed_domains and (source.queries or source.engine == "google_alerts"), source.name
            continue
        assert source.allowed_domains, source.name
        for url in _urls(source):
            assert source.allows(url), f"{source.name}: {url} is outside {source.allowed_domains}"


def test_english_and_polish_outlets_and_topic_search_feeds_are_present(sources):
    by_lang = {lang: [s for s in sources if s.language == lang] for lang in ("en", "pl")}
    assert {s.language for s in sources} == {"en", "pl"}
    assert len(by_lang["en"]) >= 8 and len(by_lang["pl"]) >= 8
    search = [s for s in sources if s.is_search]
    assert {s.language for s in search} == {"en", "pl"} and {s.engine for s in search} == {"bing_news", "google_news"}
    search_urls = " ".join(u for s in search for u in s.feeds).lower()
    assert "facebook" in search_urls and "bank" in search_urls


def test_every_schedule_and_time_limit_is_usable_by_the_scheduler(sources):
    for source in sources:
        trigger = trigger_for(source.schedule, jitter=60)
        assert trigger.get_next_fire_time(None, datetime.now(timezone.utc)) is not None, source.name
        assert 60 <= source.time_limit <= 6 * 3600, source.name


def test_every_entry_says_what_is_confirmed(raw_entries):
    """A comment above each entry says what is confirmed and what is not (the file stays honest)."""
    text = SOURCES_FILE.read_text(encoding="utf-8")
    for entry in raw_entries:
        before = text[:text.index(f"  - name: {entry['name']}\n")].rstrip().splitlines()
        comments = []
        for line in reversed(before):
            if not line.strip().startswith("#"):
                break
            comments.append(line)
        said = " ".join(comments)
        assert "CONFIRMED" in said or "NOT confirmed" in said, entry["name"]


def test_the_corrected_addresses(sources, raw_entries):
    by = {s.name: s for s in sources}
    assert by["wsj-business"].feeds == ("https://feeds.content.dowjones.io/public/rss/WSJcomUSBusiness",
                                       "https://feeds.content.dowjones.io/public/rss/RSSWSJD")
    assert "https://www.cnbc.com/sitemap_news.xml" in by["cnbc"].sitemaps
    assert by["spiders-web"].feeds[0] == "https://spidersweb.pl/api/post/feed/feed-gn"
    assert "reuters" not in by and next(e for e in raw_entries if e["name"] == "reuters")["enabled"] is False
    bbc = by["bbc-business"]
    assert bbc.excludes("https://www.bbc.com/news/videos/c4g7x1") and bbc.excludes("https://www.bbc.co.uk/news/live/c1")
    assert not bbc.excludes("https://www.bbc.com/news/articles/c0w8y1")
    rp = by["rzeczpospolita"]
    assert rp.allows("https://pro.rp.pl/x") and rp.excludes("https://pro.rp.pl/x") and not rp.excludes("https://www.rp.pl/x")
