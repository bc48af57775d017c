"""The sources file: what a valid one looks like, and what a user sees when it is wrong."""

import pytest

from crawler.sources import SourcesError, load_sources, parse_duration, select_sources, time_limit
from dealwatch.settings import load_settings
from demo_sites import shipped_sources_file

GOOD = """
defaults:
  schedule: {interval: 1h}
  time_limit: 30m
sources:
  - name: baltic-ledger
    language: en
    homepage: http://127.0.0.2:8080/
    sections: [http://127.0.0.2:8080/business/]
    feeds: [http://127.0.0.2:8080/feed.xml]
    sitemaps: [http://127.0.0.2:8080/sitemap.xml]
    allowed_domains: [127.0.0.2]
    article_patterns: ['^/\\d{4}/\\d{2}/[^/]+/?$']
    schedule: {interval: 30m}
    time_limit: 10m
  - name: kurier
    language: pl
    feeds: [https://kurier.example.pl/rss]
    schedule: {cron: "*/30 * * * *"}
"""


def write(tmp_path, text):
    p = tmp_path / "sources.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_valid_file_gives_sources_with_defaults_applied(tmp_path):
    a, b = load_sources(write(tmp_path, GOOD))
    assert a.name == "baltic-ledger" and a.schedule.interval == 1800 and a.time_limit == 600
    assert a.start_urls[0] == "http://127.0.0.2:8080/feed.xml"
    assert b.schedule.cron == "*/30 * * * *" and b.time_limit == 1800
    assert b.allowed_domains == ("kurier.example.pl",)       # defaults to the hosts of its own URLs
    assert a.allows("http://127.0.0.2:8080/x") and not a.allows("http://127.0.0.3:8080/x")


def test_a_source_without_a_time_limit_takes_the_crawl_time_limit_setting(tmp_path):
    settings = load_settings().replace(crawl_time_limit=42.0)
    [bare] = load_sources(write(tmp_path, "sources:\n  - name: bare\n    feeds: [http://x.example/]\n"))
    assert bare.time_limit is None
    assert time_limit(bare, settings) == 42.0
    own, from_defaults = load_sources(write(tmp_path, GOOD))
    assert time_limit(own, settings) == 600 and time_limit(from_defaults, settings) == 1800   # the file wins


@pytest.mark.parametrize("bad, words", [
    ("  - name: Bad_Name\n    feeds: [http://x.example/]\n", ["sources[0]", "name"]),
    ("  - name: a\n    feeds: [ftp://x.example/]\n", ["(a)", "feeds", "ftp://"]),
    ("  - name: a\n    language: english\n    feeds: [http://x.example/]\n", ["(a)", "language"]),
    ("  - name: a\n    feeds: [http://x.example/]\n    schedule: {interval: soon}\n", ["(a)", "schedule.interval"]),
    ("  - name: a\n    feeds: [http://x.example/]\n    schedule: {cron: '* *'}\n", ["(a)", "cron"]),
    ("  - name: a\n    feeds: [http://x.example/]\n    article_patterns: ['(']\n", ["(a)", "article_patterns"]),
    ("  - name: a\n    feeds: [http://x.example/]\n    fedds: []\n", ["(a)", "fedds"]),
    ("  - name: a\n    language: en\n", ["(a)", "at least one of"]),
    ("  - name: a\n    feeds: [http://x.example/]\n  - name: a\n    feeds: [http://y.example/]\n", ["duplicate"]),
])
def test_bad_input_names_file_source_and_field(tmp_path, bad, words):
    path = write(tmp_path, "sources:\n" + bad)
    with pytest.raises(SourcesError) as exc:
        load_sources(path)
    for w in [str(path), *words]:
        assert w in str(exc.value)


def test_missing_file_and_broken_yaml_are_reported(tmp_path):
    with pytest.raises(SourcesError, match="cannot read"):
        load_sources(tmp_path / "nope.yaml")
    with pytest.raises(SourcesError, match="not valid YAML"):
        load_sources(write(tmp_path, "sources: [\n"))


def test_durations():
    assert [parse_duration(d) for d in ("30s", "15m", "1h", "1d", 90)] == [30, 900, 3600, 86400, 90]
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_selecting_unknown_sources_lists_the_known_ones(tmp_path):
    sources = load_sources(write(tmp_path, GOOD))
    with pytest.raises(SourcesError, match="kurier"):
        select_sources(sources, ["nope"])


def test_the_shipped_demo_sources_are_valid():
    names = [s.name for s in load_sources(shipped_sources_file())]
    assert "baltic-ledger" in names and len(names) == len(set(names))
