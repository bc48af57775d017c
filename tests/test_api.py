"""The JSON API: every endpoint and its error answers, against the real app and node."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import search_archive as sa
from search_ui.app import create_app


def test_search_answers_hits_total_facets_and_links(client, archive):
    r = client.get("/api/search", params={"q": "citigroup", "relevant": "0"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 4 and body["page"] == 1 and body["sort"] == "relevance"
    # the two copies of one story come as one hit with "1 similar"
    hit = next(h for h in body["hits"] if h["id"] in (archive["fb-banks"], archive["fb-banks-wire"]))
    assert len(body["hits"]) == 3 and hit["similar_count"] == 1 and body["collapsed"]
    assert {"title", "url", "source", "published_at", "lang", "relevance_score", "entities", "snippet_html",
            "similar_count"} <= set(hit)
    assert "<mark>Citigroup</mark>" in hit["snippet_html"]
    assert {f["value"] for f in body["facets"]["source"]} == {"news-en", "wire-en"}
    assert body["links"]["csv"].startswith("/export.csv?q=citigroup")


def test_search_filters_and_histogram(client, archive):
    r = client.get("/api/search", params=[("entity", "fb"), ("entity", "citi"), ("relevant", "0"),
                                          ("sort", "newest"), ("histogram", "1")])
    body = r.json()
    assert body["total"] == 2 and body["hits"][0]["similar_count"] == 1
    assert sum(b["count"] for b in body["histogram"]["buckets"]) == 2
    assert all(0 <= b["share"] <= 1 for b in body["histogram"]["buckets"])


def test_relevant_only_by_default(client, archive):
    default = client.get("/api/search", params={"q": "google"}).json()
    everything = client.get("/api/search", params={"q": "google", "relevant": "0"}).json()
    assert default["total"] == 0 and everything["total"] == 1
    assert default["relevance"] == "relevant" and everything["relevance"] == "all"
    assert client.get("/api/search", params={"q": "google", "relevance": "all"}).json()["total"] == 1
    assert client.get("/api/search", params={"q": "google", "relevant": "1"}).json()["total"] == 0


def test_possibly_relevant_articles_come_with_their_band_and_evidence(client, archive):
    body = client.get("/api/search", params={"relevance": "possible"}).json()
    assert body["total"] == 2 and body["relevance"] == "possible"
    assert {h["id"] for h in body["hits"]} == {archive[k] for k in sa.POSSIBLE}
    for h in body["hits"]:
        article = next(a for a in sa.ARTICLES if archive[a.key] == h["id"])
        assert h["relevance_band"] == "possible" and h["relevant"] is False
        assert h["relevance_evidence"] == [sa.evidence_of(article)]
        assert 0.3 <= h["relevance_score"] < 0.5
    facet = {f["value"]: f for f in body["facets"]["relevance"]}
    assert {v: f["count"] for v, f in facet.items()} == {"relevant": 7, "possible": 2, "not": 2}
    assert facet["possible"]["selected"] and facet["possible"]["label"] == "possibly relevant — review"
    assert "0.30" in facet["possible"]["hint"] and "0.50" in facet["possible"]["hint"]
    assert body["links"]["csv"] == "/export.csv?relevance=possible"
    assert body["links"]["html"] == "/?relevance=possible"
    # every hit names its band, also in the other two
    everything = client.get("/api/search", params={"relevance": "all", "size": "50"}).json()
    bands = {h["id"]: h["relevance_band"] for h in everything["hits"]}
    expected = {archive[a.key]: sa.band_of(a) for a in sa.ARTICLES}
    assert len(bands) == len({a.cluster for a in sa.ARTICLES}) and bands == {i: expected[i] for i in bands}


def test_openapi_documents_the_relevance_choice(client):
    spec = client.get("/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    schema = params["relevance"]["schema"]
    assert schema["enum"] == ["relevant", "possible", "all"] and schema["default"] == "relevant"
    described = params["relevance"]["description"]
    assert "possibly relevant" in described and "relevant=0" in described
    hit = spec["components"]["schemas"]["HitOut"]["properties"]
    assert {"relevance_band", "relevance_evidence"} <= set(hit)


@pytest.mark.parametrize("params, says", [
    ({"q": '"unclosed'}, "never closed"),
    ({"q": "(a OR"}, "needs a word after it"),
    ({"q": "color:red"}, "Unknown field"),
    ({"size": "101"}, "Page size must be between 1 and 100"),
    ({"size": "ten"}, "size must be a whole number"),
    ({"page": "600"}, "use the export"),
    ({"from": "31/12/2024"}, "from must be a date"),
    ({"sort": "random"}, "Unknown sort"),
    ({"relevance": "borderline"}, "Unknown relevance 'borderline': use one of relevant, possible, all"),
])
def test_bad_searches_are_400_with_a_json_message(client, params, says):
    r = client.get("/api/search", params=params)
    assert r.status_code == 400
    assert says in r.json()["error"]["message"]


def test_article_endpoint(client, archive):
    r = client.get(f"/api/articles/{archive['fb-banks']}")
    assert r.status_code == 200
    doc = r.json()
    assert doc["title"] == sa.BY_KEY["fb-banks"].title and doc["text"].startswith("Facebook asked")
    assert [c["id"] for c in doc["cluster_copies"]] == [archive["fb-banks-wire"]]
    assert doc["versions"] == [] and doc["raw_available"] is False
    missing = client.get("/api/articles/0000")
    assert missing.status_code == 404 and "No article" in missing.json()["error"]["message"]


def test_entities_endpoints(client, archive):
    body = client.get("/api/entities", params={"prefix": "citi"}).json()
    assert body["entities"][0]["id"] == "citi" and body["entities"][0]["articles"] == 4
    one = client.get("/api/entities/jpm").json()
    assert one["name"] == "JPMorgan Chase" and one["articles"] == 2
    assert {c["id"] for c in one["co_mentioned"]} == {"fb", "citi"}
    assert [h["id"] for h in one["latest"]] == [archive["fb-banks-wire"], archive["fb-banks"]]
    assert client.get("/api/entities/nobody").status_code == 404
    assert client.get("/api/entities", params={"limit": "0"}).status_code == 400
    assert client.get("/api/entities", params={"limit": "x"}).json()["error"]["message"].startswith("limit")


def test_sources_endpoint_with_and_without_run_history(client, es, settings, archive):
    body = client.get("/api/sources").json()
    by_name = {s["source"]: s for s in body["sources"]}
    assert by_name["news-en"]["articles"] == 5 and by_name["news-en"]["runs"] == []
    from datetime import datetime, timezone

    from indexer.archive import Archive
    from indexer.run_history import RunRecord
    Archive(settings).record_run(RunRecord(
        run_id="r1", source="news-en", started_at=datetime(2024, 7, 1, tzinfo=timezone.utc),
        ended_at=datetime(2024, 7, 1, 0, 1, tzinfo=timezone.utc), status="partial", pages_fetched=12,
        errors={"http_404": 2}, last_error="2 pages not found",
        next_run_at=datetime(2024, 7, 1, 1, tzinfo=timezone.utc)))
    by_name = {s["source"]: s for s in client.get("/api/sources").json()["sources"]}
    run = by_name["news-en"]["runs"][0]
    assert run["status"] == "partial" and run["errors"] == {"http_404": 2} and run["pages_fetched"] == 12
    assert by_name["news-en"]["next_run_at"].startswith("2024-07-01T01:00")
    page = client.get("/sources")
    assert page.status_code == 200 and "2 pages not found" in page.text and "partial" in page.text


def test_unknown_endpoints_and_openapi(client):
    r = client.get("/api/nothing")
    assert r.status_code == 404 and "see /docs" in r.json()["error"]["message"]
    spec = client.get("/openapi.json").json()
    assert {"/api/search", "/api/articles/{doc_id}", "/api/entities", "/api/entities/{entity_id}",
            "/api/sources", "/export.csv", "/feed.atom"} <= set(spec["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "<code>GET /api/search</code>" in docs.text and "cdn" not in docs.text


def test_render_time_is_reported(client):
    r = client.get("/api/search")
    assert r.headers["X-Render-Time"].endswith("ms")


def test_token_protects_everything_when_set(settings, archive):
    with TestClient(create_app(settings.replace(ui_token="s3cret"))) as c:
        assert c.get("/api/search").status_code == 401
        assert c.get("/").status_code == 401
        assert c.get("/api/search", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/api/search", auth=("anyone", "s3cret")).status_code == 200
        assert c.get("/api/search", auth=("anyone", "wrong")).status_code == 401
        assert c.get("/?token=s3cret").status_code == 200
        assert c.get("/entities").status_code == 200  # the cookie remembers the token
        assert c.get("/static/style.css").status_code == 200


@pytest.mark.parametrize("q", ['"', "(", ")", "-", "--bank", "a:", ":a", "title:", "AND", "a OR OR b", "*a", "NOT NOT a",
                               '"a" "', "bank:", "title:(a b)", "a && b || c", "ąę śćź", "é*", "a" * 3000,
                               "source:", "entity:*", '\\"', "a)(b", "<script>alert(1)</script>", "%00", "a\x00b"])
def test_odd_queries_never_crash(client, q):
    r = client.get("/api/search", params={"q": q, "relevant": "0"})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert r.json()["error"]["message"]
    page = client.get("/", params={"q": q})
    assert page.status_code in (200, 400) and "<script>alert(1)</script>" not in page.text


def test_a_document_stored_with_a_single_author_string_is_answered(client, es, settings, archive):
    # Elasticsearch returns a keyword field as it was stored: one string, not a list (archives written
    # by other tools do that); the API's response model must not turn that into a 500
    odd = sa.TestArticle("one-author", "Single author field", "Facebook asked Citigroup for card data.",
                         "news-en", "en", sa._d(2024, 2, 2), [sa.FB, sa.CITI], cluster="c-one")
    doc = sa.document_for(odd, settings)
    doc["authors"] = "Solo Writer"
    es.index(index=settings.articles_alias, id=doc["id"], document=doc, refresh="wait_for")
    try:
        r = client.get("/api/search", params={"q": "\"single author field\"", "relevant": "0"})
        assert r.status_code == 200, r.text
        assert r.json()["hits"][0]["authors"] == ["Solo Writer"]
    finally:
        es.delete(index=settings.articles_alias, id=doc["id"], refresh="wait_for")


def test_a_possible_band_not_below_the_threshold_stops_the_app_at_start(settings):
    with pytest.raises(ValueError, match=r"relevance_possible_min \(0.6\) must be at least 0 and below "
                                         r"relevance_threshold \(0.5\)"):
        create_app(settings.replace(relevance_threshold=0.5, relevance_possible_min=0.6))
