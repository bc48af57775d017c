"""Compiling a search to Elasticsearch: the query language's AST and the filters to query bodies.

Pure functions of :class:`~indexer.query.params.SearchParams` and the relevance bands of the
settings (:class:`~indexer.query.bands.RelevanceBands`; no client, no I/O): the bool query
(:func:`build_query`), highlighting, sort, facet aggregations and the complete results-page body
(:func:`search_body`). A plain word matches the exact words of the title and text *or* their lemmas,
so ``bank`` finds "banków" and ``"dane klientów"`` finds "danych klienta"; a word or phrase equal
to the name of a recognised entity also finds the articles that mention it in another spelling.
Highlight markers in snippets are the sentinels :data:`HL_PRE` / :data:`HL_POST`, which the faces
turn into their own markup after escaping the text.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from indexer.enrich.lemmas import lemma_tokens
from indexer.query.bands import BANDS, RelevanceBands
from indexer.query.language import (MAX_PREFIX_LENGTH, And, MatchAll, Node, Not, Or, QuerySyntaxError, Term,
                                    parse_query, query_terms)
from indexer.query.params import SearchParams
from indexer.query.urls import url_prefixes, url_variants

# Highlight sentinels: private-use characters that never occur in crawled text.
HL_PRE = "\ue000"
HL_POST = "\ue001"

# Fields a hit carries in _source (never the full text: snippets come from highlighting).
HIT_SOURCE = ["id", "url", "canonical_url", "title", "source", "domain", "published_at", "crawled_at", "lang",
              "authors", "relevant", "relevance_score", "relevance_evidence", "entity_ids", "entity_names",
              "entity_types", "entities", "cluster_id", "description", "version"]


def _lemmas(text: str) -> list[str]:
    return [t for t in lemma_tokens(text) if t]


def _text_clause(term: Term, exact_fields: list[str], lemma_fields: list[str]) -> dict:
    should: list[dict] = []
    if term.prefix:
        value = term.value.lower()
        for f in exact_fields:
            name, _, boost = f.partition("^")
            should.append({"prefix": {name: {"value": value, "boost": float(boost or 1)}}})
        for f in lemma_fields:
            name, _, boost = f.partition("^")
            should.append({"prefix": {name: {"value": value, "boost": float(boost or 1)}}})
    elif term.phrase:
        for f in exact_fields:
            name, _, boost = f.partition("^")
            should.append({"match_phrase": {name: {"query": term.value, "boost": float(boost or 1)}}})
        lemmas = " ".join(_lemmas(term.value))
        if lemmas:
            for f in lemma_fields:
                name, _, boost = f.partition("^")
                should.append({"match_phrase": {name: {"query": lemmas, "boost": float(boost or 1)}}})
    else:
        should.append({"multi_match": {"query": term.value, "fields": exact_fields, "operator": "and"}})
        lemmas = " ".join(_lemmas(term.value))
        if lemmas:
            should.append({"multi_match": {"query": lemmas, "fields": lemma_fields, "operator": "and"}})
    return should[0] if len(should) == 1 else {"bool": {"should": should, "minimum_should_match": 1}}


def _keyword_clause(field_name: str, term: Term) -> dict:
    if term.prefix:
        return {"prefix": {field_name: {"value": term.value, "case_insensitive": True}}}
    return {"term": {field_name: {"value": term.value, "case_insensitive": True}}}


def term_to_es(term: Term) -> dict:
    if term.field is None:
        clause = _text_clause(term, ["title^3", "text"], ["title_lemmas^2", "text_lemmas"])
        if term.prefix:
            return clause
        # a watchlist name also finds the articles where enrichment recognised it misspelled or
        # inflected beyond the lemmatiser ("citigroup" finds "Citygroup")
        by_entity = {"term": {"entity_names": {"value": term.value, "case_insensitive": True}}}
        return {"bool": {"should": [clause, by_entity], "minimum_should_match": 1}}
    if term.field == "title":
        return _text_clause(term, ["title"], ["title_lemmas"])
    if term.field == "author":
        if term.prefix:
            return {"prefix": {"authors.text": term.value.lower()}}
        kind = "match_phrase" if term.phrase else "match"
        body: dict[str, Any] = {"query": term.value}
        if kind == "match":
            body["operator"] = "and"
        return {kind: {"authors.text": body}}
    if term.field == "source":
        return _keyword_clause("source", term)
    if term.field == "lang":
        return _keyword_clause("lang", term)
    if term.field == "entity":
        return {"bool": {"should": [_keyword_clause("entity_ids", term), _keyword_clause("entity_names", term)],
                         "minimum_should_match": 1}}
    if term.field == "site":
        return site_clause(term)
    if term.field == "url":
        return url_clause(term)
    raise QuerySyntaxError(f"Unknown field {term.field!r}.")


def site_clause(term: Term) -> dict:
    """``site:bankier.pl``: the domain itself and every subdomain of it (``www.bankier.pl``)."""
    host = term.value.lower()
    if term.prefix:
        return {"prefix": {"domain": {"value": host, "case_insensitive": True}}}
    return {"bool": {"should": [{"term": {"domain": {"value": host, "case_insensitive": True}}},
                                {"wildcard": {"domain": {"value": "*." + host, "case_insensitive": True}}}],
                     "minimum_should_match": 1}}


def url_clause(term: Term) -> dict:
    """A pasted URL: the article stored under it (``url`` or ``canonical_url``, in any of the spellings of
    :func:`~indexer.query.urls.url_variants`), or else the articles whose text quotes the address."""
    if term.prefix:
        return {"bool": {"should": [{"prefix": {f: p}} for p in url_prefixes(term.value)
                                    for f in ("url", "canonical_url")], "minimum_should_match": 1}}
    variants = url_variants(term.value)
    return {"bool": {"should": [{"terms": {"url": variants, "boost": 10.0}},
                                {"terms": {"canonical_url": variants, "boost": 10.0}},
                                {"match_phrase": {"text": term.value}}],
                     "minimum_should_match": 1}}


def ast_to_es(node: Node) -> dict:
    if isinstance(node, MatchAll):
        return {"match_all": {}}
    if isinstance(node, Term):
        return term_to_es(node)
    if isinstance(node, Not):
        return {"bool": {"must_not": [ast_to_es(node.child)]}}
    if isinstance(node, And):
        must, must_not = [], []
        for c in node.children:
            if isinstance(c, Not):
                must_not.append(ast_to_es(c.child))
            else:
                must.append(ast_to_es(c))
        body: dict[str, Any] = {}
        if must:
            body["must"] = must
        if must_not:
            body["must_not"] = must_not
        return {"bool": body}
    if isinstance(node, Or):
        return {"bool": {"should": [ast_to_es(c) for c in node.children], "minimum_should_match": 1}}
    raise TypeError(node)


def filter_clauses(params: SearchParams, *, bands: RelevanceBands) -> dict[str, list[dict]]:
    """The filters of a request by facet name (facets count with all filters but their own)."""
    out: dict[str, list[dict]] = {}
    if params.entities:
        out["entity"] = [{"term": {"entity_ids": e}} for e in params.entities]
    if params.entity_types:
        out["type"] = [{"terms": {"entity_types": list(params.entity_types)}}]
    if params.sources:
        out["source"] = [{"terms": {"source": list(params.sources)}}]
    if params.langs:
        out["lang"] = [{"terms": {"lang": list(params.langs)}}]
    if params.found_via:
        out["found_via"] = [{"terms": {"found_via": list(params.found_via)}}]
    if params.date_from or params.date_to:
        rng: dict[str, str] = {}
        if params.date_from:
            rng["gte"] = params.date_from.isoformat()
        if params.date_to:
            # the whole day, rounded up by Elasticsearch (no day after 9999-12-31 to compute here)
            rng["lte"] = params.date_to.isoformat() + "||/d"
        out["date"] = [{"range": {"published_at": rng}}]
    if params.relevance != "all":
        out["relevance"] = [bands.clause(params.relevance)]
    return out


def build_query(params: SearchParams, without: Iterable[str] = (), *, bands: RelevanceBands) -> dict:
    """The full Elasticsearch query for a request (text AND all filters, except the named ones)."""
    text = ast_to_es(parse_query(params.q))
    skip = set(without)
    filters = [c for name, clauses in filter_clauses(params, bands=bands).items() if name not in skip
               for c in clauses]
    if not filters:
        return text
    body: dict[str, Any] = {"filter": filters}
    if text != {"match_all": {}}:
        body["must"] = [text]
    return {"bool": body}


def _stem(word: str) -> str:
    w = word.lower()
    return w if len(w) <= 4 else w[: max(4, len(w) - 2)]


def highlight_query(params: SearchParams) -> dict | None:
    """What to mark in snippets: the query's words, plus their inflected forms (by a short prefix),
    because a lemma match ("bank" ↔ "banków") has no exact word to mark."""
    terms = query_terms(parse_query(params.q))
    if not terms:
        return None
    should: list[dict] = []
    for t in terms:
        fields = ["title"] if t.field == "title" else ["title", "text"]
        for f in fields:
            if t.phrase:
                should.append({"match_phrase": {f: t.value}})
            elif t.prefix:
                should.append({"prefix": {f: t.value.lower()}})
            else:
                should.append({"match": {f: t.value}})
                for w in set(re.findall(r"\w+", t.value)) | set(_lemmas(t.value)):
                    if 4 <= len(w) <= MAX_PREFIX_LENGTH:      # a stem is a prefix query: within its bound
                        should.append({"prefix": {f: _stem(w)}})
    return {"bool": {"should": should}}


def highlight_spec(params: SearchParams, fragment_size: int = 220, fragments: int = 2) -> dict:
    spec: dict[str, Any] = {
        "type": "unified", "pre_tags": [HL_PRE], "post_tags": [HL_POST], "encoder": "default",
        "fields": {
            "title": {"number_of_fragments": 0},
            "text": {"fragment_size": fragment_size, "number_of_fragments": fragments, "no_match_size": fragment_size},
        },
    }
    hq = highlight_query(params)
    if hq:
        spec["highlight_query"] = hq
    return spec


def sort_spec(params: SearchParams) -> list:
    newest = [{"published_at": {"order": "desc", "missing": "_last"}}, {"crawled_at": {"order": "desc"}}]
    if params.effective_sort == "newest":
        return newest
    return ["_score", *newest]


FACETS = {  # facet name -> (field, number of buckets)
    "entity": ("entity_ids", 30),
    "type": ("entity_types", 20),
    "source": ("source", 50),
    "lang": ("lang", 20),
    "found_via": ("found_via", 30),
}


def facet_aggs(params: SearchParams, *, bands: RelevanceBands) -> dict:
    """One filter+terms aggregation per facet: counts under every filter but the facet's own
    (entities combine with AND, so their counts respect the chosen entities too); the relevance
    facet counts each of the three bands (relevant, possible, not) under all the other filters."""
    aggs: dict[str, Any] = {}
    no_text = params.model_copy(update={"q": ""})
    for name, (fld, size) in FACETS.items():
        own = () if name == "entity" else (name,)
        aggs[f"facet_{name}"] = {
            "filter": build_query(no_text, without=own, bands=bands),
            "aggs": {"values": {"terms": {"field": fld, "size": size}}},
        }
    aggs["facet_relevance"] = {
        "filter": build_query(no_text, without=("relevance",), bands=bands),
        "aggs": {"bands": {"filters": {"filters": {b: bands.clause(b) for b in BANDS}}}},
    }
    return aggs


def search_body(params: SearchParams, *, bands: RelevanceBands, facets: bool = True, highlight: bool = True,
                collapse: bool = False) -> dict:
    """The complete search body (without index) for one results page."""
    text = ast_to_es(parse_query(params.q))
    filters = [c for clauses in filter_clauses(params, bands=bands).values() for c in clauses]
    body: dict[str, Any] = {
        "query": text,
        "post_filter": {"bool": {"filter": filters}} if filters else {"match_all": {}},
        "from": params.offset, "size": params.size, "sort": sort_spec(params),
        "track_total_hits": True, "_source": HIT_SOURCE,
    }
    if highlight:
        body["highlight"] = highlight_spec(params)
    if facets:
        body["aggs"] = facet_aggs(params, bands=bands)
    if collapse:
        # the number of distinct stories (clusters) among the matches: what the pages show
        body.setdefault("aggs", {})["stories"] = {
            "filter": build_query(params.model_copy(update={"q": ""}), bands=bands),
            "aggs": {"n": {"cardinality": {"field": "cluster_id", "precision_threshold": 40000}}}}
        body["collapse"] = {"field": "cluster_id",
                            "inner_hits": {"name": "similar", "size": 5, "_source": ["id", "title", "source", "url"],
                                           "sort": [{"published_at": {"order": "asc", "missing": "_last"}}]}}
    return body


# ---------------------------------------------------------------------------------------
