"""Canonical URLs: one article under several addresses is one document."""

from crawler.canonical import canonicalize, url_key
from indexer.schema import article_id


def test_tracking_parameters_are_stripped_and_the_rest_sorted():
    url = "https://news.example.com/a/story?utm_source=rss&b=2&fbclid=IwAR0&a=1&gclid=x&mc_cid=9&utm_medium=email"
    assert canonicalize(url) == "https://news.example.com/a/story?a=1&b=2"


def test_scheme_host_case_fragment_port_and_trailing_slash_are_unified():
    variants = [
        "http://News.Example.com/2024/05/story/",
        "https://news.example.com/2024/05/story",
        "https://news.example.com:443/2024/05/story/#comments",
        "http://news.example.com:80/2024/05/story?utm_campaign=x",
        "https://news.example.com//2024/05//story/",
    ]
    assert {canonicalize(v) for v in variants} == {"https://news.example.com/2024/05/story"}
    assert len({article_id(canonicalize(v)) for v in variants}) == 1


def test_loopback_hosts_keep_their_scheme_and_port():
    assert canonicalize("http://127.0.0.2:8080/2024/05/x/?fbclid=1") == "http://127.0.0.2:8080/2024/05/x"
    assert canonicalize("http://localhost:8080/") == "http://localhost:8080/"
    assert url_key("https://127.0.0.2:8080/a/") == url_key("http://127.0.0.2:8080/a")


def test_relative_urls_resolve_against_the_page():
    assert canonicalize("../b/?utm_source=x", base="https://example.com/a/c/") == "https://example.com/a/b"


def test_meaningful_query_parameters_are_kept():
    assert canonicalize("https://example.com/article.php?id=42&page=2") == "https://example.com/article.php?id=42&page=2"


def test_a_parameter_that_numbers_the_article_is_kept_though_it_looks_like_a_tracker():
    # a real article address (from the news-pages test corpus): pk_no is the article's number,
    # unlike Matomo's pk_campaign/pk_kwd; stripping it would make all the site's articles one document
    assert canonicalize("http://m.daejonilbo.com/mnews.asp?pk_no=1412361") == \
        "https://m.daejonilbo.com/mnews.asp?pk_no=1412361"
    assert canonicalize("https://example.com/a/story?pk_campaign=rss&pk_kwd=x&mtm_source=feed&id=7") == \
        "https://example.com/a/story?id=7"
