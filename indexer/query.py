"""The one query builder: a search request in, an Elasticsearch body and a plain answer out.

Everything that searches the archive goes through here — the web pages, the JSON API, the
Atom feed, the CSV/JSON Lines export and ``dealwatch search|export`` — so the same words
with the same filters give the same articles everywhere.

Flow: :class:`SearchRequest` (what the user asked: query text, filters, sort, page) →
:func:`parse_query` (the small query language → an AST; malformed input raises
:class:`QuerySyntaxError` with a message a person can act on) → :func:`build_query`
(AST + filters → Elasticsearch bool query) → :func:`search` (hits with highlighted snippets,
facets with live counts, near-duplicates collapsed) and :func:`histogram` (hits over time with
the share of all archived articles).

Query language::

    facebook bank            both words (AND is implied)
    facebook OR meta         either
    NOT google, -google      without
    "card transactions"      a phrase
    bank*                    a prefix
    title:chase  source:demo-news  author:smith  lang:pl  entity:facebook
    (facebook OR meta) AND (chase OR citigroup)

A plain word matches the exact words of the title and text *or* their lemmas, so ``bank``
finds "banków" and ``"dane klientów"`` finds "danych klienta"; a word or phrase equal to the
name of a recognised entity also finds the articles that mention it in another spelling. Highlight markers in snippets
are the sentinels :data:`HL_PRE` / :data:`HL_POST`; views escape the text and then turn them
into markup (see :func:`highlight_to_html`).
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Union

from elasticsearch import Elasticsearch

from dealwatch.settings import Settings

log = logging.getLogger(__name__)

# Highlight sentinels: private-use characters that never occur in crawled text.
HL_PRE = "\ue000"
HL_POST = "\ue001"

MAX_RESULT_WINDOW = 10_000         # from + size beyond this: use the export
MAX_QUERY_LENGTH = 2_000
SORTS = ("relevance", "newest")
QUERY_FIELDS = ("title", "source", "author", "lang", "entity")

# Fields a hit carries in _source (never the full text: snippets come from highlighting).
HIT_SOURCE = ["id", "url", "canonical_url", "title", "source", "domain", "published_at", "crawled_at", "lang",
              "authors", "relevant", "relevance_score", "entity_ids", "entity_names", "entity_types", "entities",
              "cluster_id", "description", "version"]


# ---------------------------------------------------------------------------------------
# The request
# ---------------------------------------------------------------------------------------

class QueryError(ValueError):
    """A request the archive cannot answer as asked; ``str(exc)`` is meant for the user."""


class QuerySyntaxError(QueryError):
    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class SearchRequest:
    """What a user asked for. All of it fits in a URL (see :meth:`to_params`)."""

    q: str = ""
    entities: tuple[str, ...] = ()          # entity ids, combined with AND
    entity_types: tuple[str, ...] = ()      # any of
    sources: tuple[str, ...] = ()           # any of
    langs: tuple[str, ...] = ()             # any of
    date_from: date | None = None           # published on or after
    date_to: date | None = None             # published on or before (whole day)
    relevant_only: bool = True
    sort: str = ""                          # "" = relevance with a query, newest without
    page: int = 1
    size: int = 20

    @property
    def effective_sort(self) -> str:
        return self.sort or ("relevance" if self.q.strip() else "newest")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def validated(self, settings: Settings) -> "SearchRequest":
        """Check bounds; raise :class:`QueryError` with a clear message otherwise."""
        if len(self.q) > MAX_QUERY_LENGTH:
            raise QueryError(f"The query is {len(self.q)} characters long; the limit is {MAX_QUERY_LENGTH}.")
        if self.sort and self.sort not in SORTS:
            raise QueryError(f"Unknown sort {self.sort!r}: use one of {', '.join(SORTS)}.")
        if self.size < 1 or self.size > settings.ui_max_page_size:
            raise QueryError(f"Page size must be between 1 and {settings.ui_max_page_size} (got {self.size}).")
        if self.page < 1:
            raise QueryError(f"Page numbers start at 1 (got {self.page}).")
        if self.offset + self.size > MAX_RESULT_WINDOW:
            raise QueryError(f"Results beyond the first {MAX_RESULT_WINDOW:,} cannot be paged through; "
                             "narrow the query or use the export (CSV / JSON Lines), which has no limit.")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise QueryError(f"The date range is empty: from {self.date_from} is after to {self.date_to}.")
        parse_query(self.q)  # raises QuerySyntaxError
        return self

    def to_params(self, **changes: Any) -> list[tuple[str, str]]:
        """URL parameters for this request (with some fields changed): the inverse of :func:`request_from_params`."""
        r = replace(self, **changes) if changes else self
        params: list[tuple[str, str]] = []
        if r.q:
            params.append(("q", r.q))
        params += [("entity", e) for e in r.entities]
        params += [("type", t) for t in r.entity_types]
        params += [("source", s) for s in r.sources]
        params += [("lang", lang) for lang in r.langs]
        if r.date_from:
            params.append(("from", r.date_from.isoformat()))
        if r.date_to:
            params.append(("to", r.date_to.isoformat()))
        if not r.relevant_only:
            params.append(("relevant", "0"))
        if r.sort:
            params.append(("sort", r.sort))
        if r.page != 1:
            params.append(("page", str(r.page)))
        if r.size != SearchRequest.size:
            params.append(("size", str(r.size)))
        return params


def _parse_date(value: str, name: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise QueryError(f"{name} must be a date like 2024-05-31 (got {value!r}).") from None


def _parse_int(value: str | None, name: str, default: int) -> int:
    if value is None or str(value).strip() == "":
        return default
    try:
        return int(str(value).strip())
    except ValueError:
        raise QueryError(f"{name} must be a whole number (got {value!r}).") from None


def _parse_bool(value: str | None, default: bool) -> bool:
    if value is None or str(value).strip() == "":
        return default
    return str(value).strip().lower() not in {"0", "false", "no", "off", "all"}


def request_from_params(params: Iterable[tuple[str, str]], default_size: int = 20) -> SearchRequest:
    """Build a request from URL-style parameters (repeated keys for several values)."""
    multi: dict[str, list[str]] = {}
    for k, v in params:
        multi.setdefault(k, []).append(v)

    def many(key: str) -> tuple[str, ...]:
        out: list[str] = []
        for v in multi.get(key, []):
            out += [p.strip() for p in v.split(",") if p.strip()]
        return tuple(dict.fromkeys(out))

    def one(key: str) -> str | None:
        vals = multi.get(key)
        return vals[-1] if vals else None

    return SearchRequest(
        q=(one("q") or "").strip(),
        entities=many("entity"), entity_types=many("type"), sources=many("source"), langs=many("lang"),
        date_from=_parse_date(one("from") or "", "from"), date_to=_parse_date(one("to") or "", "to"),
        relevant_only=_parse_bool(one("relevant"), True),
        sort=(one("sort") or "").strip(),
        page=_parse_int(one("page"), "page", 1), size=_parse_int(one("size"), "size", default_size),
    )


# ---------------------------------------------------------------------------------------
# The query language: tokens -> AST
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    value: str
    field: str | None = None     # None: title + text; else one of QUERY_FIELDS
    phrase: bool = False
    prefix: bool = False


@dataclass(frozen=True)
class Not:
    child: "Node"


@dataclass(frozen=True)
class And:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class MatchAll:
    pass


Node = Union[Term, Not, And, Or, MatchAll]


@dataclass(frozen=True)
class _Tok:
    kind: str      # TERM, AND, OR, NOT, LPAREN, RPAREN
    pos: int
    term: Term | None = None
    text: str = ""


_FIELD_RE = re.compile(r"([A-Za-z_]+):")
_FIELD_ALIASES = {"authors": "author", "language": "lang", "entities": "entity", "src": "source"}


def _tokenize(q: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
            continue
        if c == "(":
            toks.append(_Tok("LPAREN", i, text="("))
            i += 1
            continue
        if c == ")":
            toks.append(_Tok("RPAREN", i, text=")"))
            i += 1
            continue
        if c == "-" and i + 1 < n and not q[i + 1].isspace() and (not toks or toks[-1].kind != "TERM" or q[i - 1].isspace()):
            toks.append(_Tok("NOT", i, text="-"))
            i += 1
            continue
        start = i
        fld: str | None = None
        m = _FIELD_RE.match(q, i)
        if m and m.end() < n and not q[m.end()].isspace() and q[m.end()] not in "()":
            name = m.group(1).lower()
            name = _FIELD_ALIASES.get(name, name)
            if name not in QUERY_FIELDS:
                raise QuerySyntaxError(
                    f"Unknown field {m.group(1)!r} at position {start + 1}: search in one of "
                    f"{', '.join(f + ':' for f in QUERY_FIELDS)} or put the words in quotes.", start)
            fld = name
            i = m.end()
        if i < n and q[i] == '"':
            end = q.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError(f'The quote opened at position {i + 1} is never closed: add a closing ".', i)
            phrase = " ".join(q[i + 1:end].split())
            if not phrase:
                raise QuerySyntaxError(f'Empty quotes at position {i + 1}: put words between them.', i)
            toks.append(_Tok("TERM", start, Term(phrase, fld, phrase=True)))
            i = end + 1
            continue
        j = i
        while j < n and not q[j].isspace() and q[j] not in '()"':
            j += 1
        word = q[i:j]
        i = j
        if fld is None and word in ("AND", "&&"):
            toks.append(_Tok("AND", start, text=word))
            continue
        if fld is None and word in ("OR", "||"):
            toks.append(_Tok("OR", start, text=word))
            continue
        if fld is None and word == "NOT":
            toks.append(_Tok("NOT", start, text=word))
            continue
        prefix = word.endswith("*")
        core = word.rstrip("*")
        if not core.strip("*?"):
            raise QuerySyntaxError(f"{word!r} at position {start + 1} has no letters: a prefix needs at least "
                                   "one character before the *.", start)
        if "*" in core:
            raise QuerySyntaxError(f"{word!r} at position {start + 1}: * is only allowed at the end of a word "
                                   "(prefix search).", start)
        toks.append(_Tok("TERM", start, Term(core, fld, prefix=prefix)))
    return toks


class _Parser:
    """Recursive descent: or := and (OR and)* ; and := unary (AND? unary)* ; unary := NOT unary | atom."""

    MAX_NESTING = 50  # brackets / NOTs inside each other; deeper input is refused, not recursed into

    def __init__(self, toks: list[_Tok], q: str):
        self.toks, self.i, self.q = toks, 0, q
        self.depth = 0

    def _enter(self, t: _Tok) -> None:
        self.depth += 1
        if self.depth > self.MAX_NESTING:
            raise QuerySyntaxError(f"Too deeply nested at position {t.pos + 1}: at most {self.MAX_NESTING} "
                                   "brackets or NOTs inside each other.", t.pos)

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def parse(self) -> Node:
        node = self.parse_or()
        t = self.peek()
        if t is not None:
            # only an unmatched ")" can stop the top level early
            raise QuerySyntaxError(f"Unmatched ')' at position {t.pos + 1}: remove it or add a '(' before it.", t.pos)
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while (t := self.peek()) is not None and t.kind == "OR":
            self.take()
            self._need_operand(t)
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while (t := self.peek()) is not None and t.kind in ("AND", "NOT", "TERM", "LPAREN"):
            if t.kind == "AND":
                self.take()
                self._need_operand(t)
            children.append(self.parse_unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self) -> Node:
        t = self.peek()
        if t is None:
            raise QuerySyntaxError("The query ends where a word was expected.", len(self.q))
        if t.kind == "NOT":
            self.take()
            self._need_operand(t)
            self._enter(t)
            node = Not(self.parse_unary())
            self.depth -= 1
            return node
        if t.kind == "LPAREN":
            self.take()
            self._enter(t)
            if (nxt := self.peek()) is not None and nxt.kind == "RPAREN":
                raise QuerySyntaxError(f"Empty parentheses at position {t.pos + 1}: put words between them.", t.pos)
            if nxt is None:
                raise QuerySyntaxError(f"The '(' at position {t.pos + 1} is never closed: add a ')'.", t.pos)
            node = self.parse_or()
            close = self.peek()
            if close is None or close.kind != "RPAREN":
                raise QuerySyntaxError(f"The '(' at position {t.pos + 1} is never closed: add a ')'.", t.pos)
            self.take()
            self.depth -= 1
            return node
        if t.kind == "TERM":
            self.take()
            assert t.term is not None
            return t.term
        if t.kind == "RPAREN":
            raise QuerySyntaxError(f"Unmatched ')' at position {t.pos + 1}: remove it or add a '(' before it.", t.pos)
        # AND / OR where a word should be
        raise QuerySyntaxError(f"{t.text} at position {t.pos + 1} needs a word before it.", t.pos)

    def _need_operand(self, op: _Tok) -> None:
        nxt = self.peek()
        if nxt is None:
            raise QuerySyntaxError(f"{op.text} at the end of the query needs a word after it.", op.pos)
        if nxt.kind in ("AND", "OR", "RPAREN"):
            raise QuerySyntaxError(f"{op.text} at position {op.pos + 1} is followed by {nxt.text}: "
                                   "put a word between them.", op.pos)


def parse_query(q: str) -> Node:
    """Parse the query language into an AST. Empty query: :class:`MatchAll`."""
    if not (q or "").strip():
        return MatchAll()
    return _Parser(_tokenize(q), q).parse()


def query_terms(node: Node) -> list[Term]:
    """The positive free-text terms of a query (for highlighting and the CLI)."""
    if isinstance(node, Term):
        return [node] if node.field in (None, "title") else []
    if isinstance(node, (And, Or)):
        return [t for c in node.children for t in query_terms(c)]
    return []


# ---------------------------------------------------------------------------------------
# AST -> Elasticsearch
# ---------------------------------------------------------------------------------------

def _lemmas(text: str) -> list[str]:
    try:
        from indexer.enrich.lemmas import lemma_tokens
    except ImportError:  # enrichment not installed: lower-cased words
        return [w.lower() for w in re.findall(r"\w+", text)]
    return [t for t in lemma_tokens(text) if t]


def warm_up() -> None:
    """Load the lemmatiser's dictionaries now (long-running processes call this at start)."""
    try:
        _lemmas("warm up banków danych")
    except Exception as exc:  # noqa: BLE001 - a failed warm-up only means a slower first query
        log.warning("lemma warm-up failed: %s", exc)


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
    raise QuerySyntaxError(f"Unknown field {term.field!r}.")


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


def filter_clauses(req: SearchRequest) -> dict[str, list[dict]]:
    """The filters of a request by facet name (facets count with all filters but their own)."""
    out: dict[str, list[dict]] = {}
    if req.entities:
        out["entity"] = [{"term": {"entity_ids": e}} for e in req.entities]
    if req.entity_types:
        out["type"] = [{"terms": {"entity_types": list(req.entity_types)}}]
    if req.sources:
        out["source"] = [{"terms": {"source": list(req.sources)}}]
    if req.langs:
        out["lang"] = [{"terms": {"lang": list(req.langs)}}]
    if req.date_from or req.date_to:
        rng: dict[str, str] = {}
        if req.date_from:
            rng["gte"] = req.date_from.isoformat()
        if req.date_to:
            rng["lt"] = (req.date_to + timedelta(days=1)).isoformat()
        out["date"] = [{"range": {"published_at": rng}}]
    if req.relevant_only:
        out["relevant"] = [{"term": {"relevant": True}}]
    return out


def build_query(req: SearchRequest, without: Iterable[str] = ()) -> dict:
    """The full Elasticsearch query for a request (text AND all filters, except the named ones)."""
    text = ast_to_es(parse_query(req.q))
    skip = set(without)
    filters = [c for name, clauses in filter_clauses(req).items() if name not in skip for c in clauses]
    if not filters:
        return text
    body: dict[str, Any] = {"filter": filters}
    if text != {"match_all": {}}:
        body["must"] = [text]
    return {"bool": body}


def _stem(word: str) -> str:
    w = word.lower()
    return w if len(w) <= 4 else w[: max(4, len(w) - 2)]


def highlight_query(req: SearchRequest) -> dict | None:
    """What to mark in snippets: the query's words, plus their inflected forms (by a short prefix),
    because a lemma match ("bank" ↔ "banków") has no exact word to mark."""
    terms = query_terms(parse_query(req.q))
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
                    if len(w) >= 4:
                        should.append({"prefix": {f: _stem(w)}})
    return {"bool": {"should": should}}


def highlight_spec(req: SearchRequest, fragment_size: int = 220, fragments: int = 2) -> dict:
    spec: dict[str, Any] = {
        "type": "unified", "pre_tags": [HL_PRE], "post_tags": [HL_POST], "encoder": "default",
        "fields": {
            "title": {"number_of_fragments": 0},
            "text": {"fragment_size": fragment_size, "number_of_fragments": fragments, "no_match_size": fragment_size},
        },
    }
    hq = highlight_query(req)
    if hq:
        spec["highlight_query"] = hq
    return spec


def sort_spec(req: SearchRequest) -> list:
    newest = [{"published_at": {"order": "desc", "missing": "_last"}}, {"crawled_at": {"order": "desc"}}]
    if req.effective_sort == "newest":
        return newest
    return ["_score", *newest]


FACETS = {  # facet name -> (field, number of buckets)
    "entity": ("entity_ids", 30),
    "type": ("entity_types", 20),
    "source": ("source", 50),
    "lang": ("lang", 20),
    "relevant": ("relevant", 2),
}


def facet_aggs(req: SearchRequest) -> dict:
    """One filter+terms aggregation per facet: counts under every filter but the facet's own
    (entities combine with AND, so their counts respect the chosen entities too)."""
    aggs: dict[str, Any] = {}
    for name, (fld, size) in FACETS.items():
        own = () if name == "entity" else (name,)
        aggs[f"facet_{name}"] = {
            "filter": build_query(replace(req, q=""), without=own),
            "aggs": {"values": {"terms": {"field": fld, "size": size}}},
        }
    return aggs


_LABEL_DOC = {"top_hits": {"size": 1, "_source": ["entities", "entity_ids", "entity_names", "entity_types"]}}


def _label_of(entity_id: str, bucket: dict) -> tuple[str, str]:
    """(name, type) of an entity from a bucket's ``doc`` top hit (details, or the parallel id/name lists)."""
    hits = bucket.get("doc", {}).get("hits", {}).get("hits", [])
    if hits:
        for e in entities_of(hits[0].get("_source", {})):
            if e["id"] == entity_id:
                return e["name"] or entity_id, e.get("type") or ""
    return entity_id, ""


def entity_labels(es: Elasticsearch, settings: Settings, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Names and types of entity ids: the watchlist first, else a document that mentions them."""
    ids = list(dict.fromkeys(ids))
    known = watchlist(settings)
    out = {i: (known[i]["name"], known[i]["type"]) for i in ids if i in known}
    missing = [i for i in ids if i not in out]
    if missing:
        resp = es.search(index=settings.articles_alias, size=0, query={"terms": {"entity_ids": missing}},
                         aggs={"ids": {"terms": {"field": "entity_ids", "include": missing, "size": len(missing)},
                                       "aggs": {"doc": _LABEL_DOC}}})
        for b in resp["aggregations"]["ids"]["buckets"]:
            out[b["key"]] = _label_of(b["key"], b)
    return out


def search_body(req: SearchRequest, *, facets: bool = True, highlight: bool = True,
                collapse: bool = False) -> dict:
    """The complete search body (without index) for one results page."""
    text = ast_to_es(parse_query(req.q))
    filters = [c for clauses in filter_clauses(req).values() for c in clauses]
    body: dict[str, Any] = {
        "query": text,
        "post_filter": {"bool": {"filter": filters}} if filters else {"match_all": {}},
        "from": req.offset, "size": req.size, "sort": sort_spec(req),
        "track_total_hits": True, "_source": HIT_SOURCE,
    }
    if highlight:
        body["highlight"] = highlight_spec(req)
    if facets:
        body["aggs"] = facet_aggs(req)
    if collapse:
        # the number of distinct stories (clusters) among the matches: what the pages show
        body.setdefault("aggs", {})["stories"] = {
            "filter": build_query(replace(req, q="")),
            "aggs": {"n": {"cardinality": {"field": "cluster_id", "precision_threshold": 40000}}}}
        body["collapse"] = {"field": "cluster_id",
                            "inner_hits": {"name": "similar", "size": 5, "_source": ["id", "title", "source", "url"],
                                           "sort": [{"published_at": {"order": "asc", "missing": "_last"}}]}}
    return body


# ---------------------------------------------------------------------------------------
# Running searches
# ---------------------------------------------------------------------------------------

@dataclass
class Hit:
    id: str
    title: str
    url: str
    source: str
    published_at: str | None
    lang: str | None
    relevant: bool | None
    relevance_score: float | None
    entities: list[dict]           # id, name, type
    authors: list[str]
    title_hl: str                  # with HL_PRE/HL_POST markers, unescaped
    snippet_hl: str                # idem
    cluster_id: str | None
    similar_count: int = 0         # other articles of the same near-duplicate cluster among the matches
    similar: list[dict] = field(default_factory=list)
    score: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "url": self.url, "source": self.source,
            "published_at": self.published_at, "lang": self.lang, "relevant": self.relevant,
            "relevance_score": self.relevance_score, "entities": self.entities, "authors": self.authors,
            "title_html": highlight_to_html(self.title_hl), "snippet_html": highlight_to_html(self.snippet_hl),
            "snippet": strip_highlight(self.snippet_hl), "cluster_id": self.cluster_id,
            "similar_count": self.similar_count, "similar": self.similar, "score": self.score,
        }


@dataclass
class FacetValue:
    value: str
    count: int
    label: str = ""
    selected: bool = False


@dataclass
class SearchResult:
    request: SearchRequest
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    took_ms: int
    collapsed: bool
    stories: int | None = None      # distinct near-duplicate clusters when collapsed

    @property
    def pages(self) -> int:
        shown = self.stories if self.collapsed and self.stories is not None else self.total
        window = min(shown, MAX_RESULT_WINDOW)
        return max(1, -(-window // self.request.size))

    @property
    def truncated(self) -> bool:
        return self.total > MAX_RESULT_WINDOW

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total, "page": self.request.page, "size": self.request.size, "pages": self.pages,
            "sort": self.request.effective_sort, "collapsed": self.collapsed, "stories": self.stories,
            "took_ms": self.took_ms,
            "hits": [h.as_dict() for h in self.hits],
            "facets": {k: [{"value": v.value, "label": v.label, "count": v.count, "selected": v.selected}
                           for v in vals] for k, vals in self.facets.items()},
        }


def strip_highlight(text: str) -> str:
    return (text or "").replace(HL_PRE, "").replace(HL_POST, "")


def highlight_to_html(text: str) -> str:
    """Escape crawled text, then turn the sentinels into <mark>: only the markers become markup."""
    escaped = html.escape(text or "", quote=True)
    # a fragment may end inside a marked phrase; close what is open
    out = escaped.replace(HL_PRE, "<mark>").replace(HL_POST, "</mark>")
    opened = out.count("<mark>") - out.count("</mark>")
    return out + "</mark>" * max(0, opened)


def entities_of(src: dict) -> list[dict]:
    details = src.get("entities")
    if isinstance(details, list) and details and isinstance(details[0], dict):
        return [{"id": d.get("id"), "name": d.get("name") or d.get("id"), "type": d.get("type")} for d in details]
    ids = src.get("entity_ids") or []
    names = src.get("entity_names") or []
    return [{"id": i, "name": names[k] if k < len(names) else i, "type": None} for k, i in enumerate(ids)]


def _hit_from(h: dict) -> Hit:
    src = h.get("_source", {})
    hl = h.get("highlight", {})
    text_frags = hl.get("text") or []
    snippet = " … ".join(f.strip() for f in text_frags) or (src.get("description") or "")
    inner = h.get("inner_hits", {}).get("similar", {}).get("hits", {})
    total_inner = (inner.get("total") or {}).get("value", 0)
    similar = [{"id": s["_source"].get("id") or s["_id"], "title": s["_source"].get("title"),
                "source": s["_source"].get("source"), "url": s["_source"].get("url")}
               for s in inner.get("hits", []) if s["_id"] != h["_id"]]
    return Hit(
        id=src.get("id") or h["_id"], title=src.get("title") or "(untitled)", url=src.get("url") or "",
        source=src.get("source") or "", published_at=src.get("published_at"), lang=src.get("lang"),
        relevant=src.get("relevant"), relevance_score=src.get("relevance_score"),
        entities=entities_of(src), authors=src.get("authors") or [],
        title_hl=(hl.get("title") or [src.get("title") or "(untitled)"])[0], snippet_hl=snippet,
        cluster_id=src.get("cluster_id"), similar_count=max(0, total_inner - 1), similar=similar,
        score=h.get("_score"),
    )


def _can_collapse(es: Elasticsearch, settings: Settings, req: SearchRequest) -> bool:
    """Collapse near-duplicates only when every match has a cluster id (missing ids would
    collapse into one group)."""
    missing = es.count(index=settings.articles_alias, query={"bool": {
        "filter": [build_query(req)], "must_not": [{"exists": {"field": "cluster_id"}}]}})["count"]
    return missing == 0


def search(es: Elasticsearch, settings: Settings, req: SearchRequest, *, facets: bool = True,
           collapse: bool | None = None) -> SearchResult:
    """One results page: hits (near-duplicates collapsed when possible), facets, total."""
    req.validated(settings)
    if collapse is None:
        collapse = _can_collapse(es, settings, req)
    body = search_body(req, facets=facets, collapse=collapse)
    resp = es.search(index=settings.articles_alias, **body)
    hits = [_hit_from(h) for h in resp["hits"]["hits"]]
    aggs = resp.get("aggregations", {})
    names: dict[str, str] = {}
    stories = aggs.get("stories", {}).get("n", {}).get("value") if collapse else None
    if aggs and "facet_entity" in aggs:
        ids = [b["key"] for b in aggs["facet_entity"]["values"]["buckets"]] + list(req.entities)
        names = {k: v[0] for k, v in entity_labels(es, settings, ids).items()}
    return SearchResult(request=req, total=resp["hits"]["total"]["value"], hits=hits,
                        facets=_facets_from(aggs, req, names) if facets else {}, took_ms=resp.get("took", 0),
                        collapsed=collapse, stories=stories)


def _facets_from(aggs: dict, req: SearchRequest, names: dict[str, str]) -> dict[str, list[FacetValue]]:
    if not aggs:
        return {}
    selected = {"entity": set(req.entities), "type": set(req.entity_types), "source": set(req.sources),
                "lang": set(req.langs), "relevant": {"true"} if req.relevant_only else set()}
    out: dict[str, list[FacetValue]] = {}
    for name in FACETS:
        buckets = aggs.get(f"facet_{name}", {}).get("values", {}).get("buckets", [])
        vals = []
        for b in buckets:
            key = b.get("key_as_string", str(b["key"])) if name == "relevant" else str(b["key"])
            label = names.get(key, key) if name == "entity" else key
            vals.append(FacetValue(key, b["doc_count"], label, key in selected[name]))
        # a selected value with no matches still shows (count 0) so it can be removed
        for s in selected[name] - {v.value for v in vals}:
            vals.append(FacetValue(s, 0, names.get(s, s), True))
        out[name] = vals
    return out


def count(es: Elasticsearch, settings: Settings, req: SearchRequest) -> int:
    """Number of matching articles (no collapsing): what the export writes."""
    parse_query(req.q)
    return es.count(index=settings.articles_alias, query=build_query(req))["count"]


# ---------------------------------------------------------------------------------------
# Hits over time
# ---------------------------------------------------------------------------------------

@dataclass
class Bucket:
    start: datetime
    count: int       # matches
    total: int       # all archived articles in the interval

    @property
    def share(self) -> float:
        return self.count / self.total if self.total else 0.0


def _interval_for(span: timedelta) -> str:
    """An interval giving a readable number of bars (about 10 to 60) for the span of dates."""
    if span <= timedelta(days=2):
        return "hour"
    if span <= timedelta(days=45):
        return "day"
    if span <= timedelta(days=366):
        return "week"
    return "month" if span <= timedelta(days=10 * 366) else "year"


def _parse_es_date(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def histogram(es: Elasticsearch, settings: Settings, req: SearchRequest) -> tuple[str, list[Bucket]]:
    """Matches per interval with the number of all archived articles in the same interval.

    The interval (hour/day/week/month/year) follows the span of the matches' dates.
    """
    query = build_query(req)
    stats = es.search(index=settings.articles_alias, size=0, query=query,
                      aggs={"first": {"min": {"field": "published_at"}}, "last": {"max": {"field": "published_at"}}})
    a = stats["aggregations"]
    first, last = _parse_es_date(a["first"].get("value")), _parse_es_date(a["last"].get("value"))
    if first is None or last is None:
        return "day", []
    interval = _interval_for(last - first)
    resp = es.search(index=settings.articles_alias, size=0,
                     query={"range": {"published_at": {"gte": first.isoformat(), "lte": last.isoformat()}}},
                     aggs={"over_time": {
                         "date_histogram": {"field": "published_at", "calendar_interval": interval,
                                            "min_doc_count": 0},
                         "aggs": {"matches": {"filter": query}}}})
    buckets = [Bucket(_parse_es_date(b["key"]), b["matches"]["doc_count"], b["doc_count"])
               for b in resp["aggregations"]["over_time"]["buckets"]]
    return interval, buckets


# ---------------------------------------------------------------------------------------
# Articles, entities, sources: the data behind the other pages and API endpoints
# ---------------------------------------------------------------------------------------

def get_article(es: Elasticsearch, settings: Settings, doc_id: str) -> dict[str, Any] | None:
    """The stored document with its earlier versions and the other copies of its cluster."""
    from indexer import store

    doc = store.get_document(es, settings, doc_id)
    if doc is None:
        return None
    doc = dict(doc)
    doc.setdefault("id", doc_id)
    doc["versions"] = store.get_versions(es, settings, doc_id)
    doc["cluster_copies"] = []
    if doc.get("cluster_id"):
        resp = es.search(index=settings.articles_alias, size=50,
                         query={"bool": {"filter": [{"term": {"cluster_id": doc["cluster_id"]}}],
                                         "must_not": [{"ids": {"values": [doc_id]}}]}},
                         sort=[{"published_at": {"order": "asc", "missing": "_last"}}],
                         _source=["id", "title", "source", "url", "published_at", "lang"])
        doc["cluster_copies"] = [{**h["_source"], "id": h["_source"].get("id") or h["_id"]}
                                 for h in resp["hits"]["hits"]]
    return doc


def watchlist(settings: Settings) -> dict[str, dict[str, Any]]:
    """Watchlist entities by id ({id, name, type, aliases}); empty when the file or loader is absent."""
    entries: list[Any] = []
    try:
        from indexer.enrich import entities as ent_mod  # the enrichment engineer's loader
        loader = getattr(ent_mod, "load_watchlist", None)
        if loader is not None:
            entries = list(loader(settings.watchlist_file))
    except ImportError:
        loader = None
    if not entries and settings.watchlist_file.exists():
        import yaml
        data = yaml.safe_load(settings.watchlist_file.read_text(encoding="utf-8")) or {}
        entries = data.get("entities", data) if isinstance(data, dict) else data
    out: dict[str, dict[str, Any]] = {}
    for e in entries or []:
        d = e if isinstance(e, dict) else {k: getattr(e, k, None) for k in ("id", "name", "type", "aliases")}
        if d.get("id"):
            out[str(d["id"])] = {"id": str(d["id"]), "name": d.get("name") or d["id"], "type": d.get("type") or "",
                                 "aliases": list(d.get("aliases") or [])}
    return out


def entity_list(es: Elasticsearch, settings: Settings, prefix: str = "", limit: int = 500,
                relevant_only: bool = False) -> list[dict[str, Any]]:
    """Entities with the number of articles mentioning them (watchlist entries with none too),
    most mentioned first; ``prefix`` filters by the start of the id, name, an alias or a word of them."""
    query = {"term": {"relevant": True}} if relevant_only else {"match_all": {}}
    resp = es.search(index=settings.articles_alias, size=0, query=query, aggs={
        "ids": {"terms": {"field": "entity_ids", "size": 2000},
                "aggs": {"doc": _LABEL_DOC, "relevant": {"filter": {"term": {"relevant": True}}}}}})
    known = watchlist(settings)
    out: dict[str, dict[str, Any]] = {}
    for b in resp["aggregations"]["ids"]["buckets"]:
        w = known.get(b["key"], {})
        name, etype = _label_of(b["key"], b)
        out[b["key"]] = {"id": b["key"], "name": w.get("name") or name, "type": w.get("type") or etype,
                         "aliases": w.get("aliases", []), "articles": b["doc_count"],
                         "relevant_articles": b["relevant"]["doc_count"]}
    for eid, w in known.items():
        out.setdefault(eid, {**w, "articles": 0, "relevant_articles": 0})
    items = list(out.values())
    p = prefix.strip().lower()
    if p:
        def matches(e: dict[str, Any]) -> bool:
            names = [e["id"], e["name"], *e.get("aliases", [])]
            return any(n.lower().startswith(p) or any(w.startswith(p) for w in n.lower().split()) for n in names)
        items = [e for e in items if matches(e)]
    items.sort(key=lambda e: (-e["articles"], e["name"].lower()))
    return items[:limit]


def entity_detail(es: Elasticsearch, settings: Settings, entity_id: str, latest: int = 10) -> dict[str, Any] | None:
    """One entity: article counts, mentions over time, top co-mentioned entities, latest relevant articles."""
    mentions = {"term": {"entity_ids": entity_id}}
    resp = es.search(index=settings.articles_alias, size=0, query=mentions, aggs={
        "relevant": {"filter": {"term": {"relevant": True}}},
        "co": {"terms": {"field": "entity_ids", "size": 16, "exclude": [entity_id]}},
        "sources": {"terms": {"field": "source", "size": 20}},
    })
    total = resp["hits"]["total"]["value"]
    known = watchlist(settings).get(entity_id)
    if total == 0 and known is None:
        return None
    a = resp["aggregations"]
    req = SearchRequest(entities=(entity_id,), relevant_only=False)
    interval, buckets = histogram(es, settings, req)
    latest_req = SearchRequest(entities=(entity_id,), relevant_only=True, sort="newest", size=latest)
    latest_hits = search(es, settings, latest_req, facets=False, collapse=False).hits
    labels = entity_labels(es, settings, [entity_id] + [b["key"] for b in a["co"]["buckets"]])
    names = {k: v[0] for k, v in labels.items()}
    own_name, own_type = labels.get(entity_id, (entity_id, ""))
    return {
        "id": entity_id, "name": own_name, "type": own_type,
        "aliases": (known or {}).get("aliases", []), "articles": total,
        "relevant_articles": a["relevant"]["doc_count"], "interval": interval, "over_time": buckets,
        "co_mentioned": [{"id": b["key"], "name": names[b["key"]], "articles": b["doc_count"]}
                         for b in a["co"]["buckets"]],
        "sources": [{"source": b["key"], "articles": b["doc_count"]} for b in a["sources"]["buckets"]],
        "latest": latest_hits,
    }


def sources_overview(es: Elasticsearch, settings: Settings, runs_per_source: int = 5) -> list[dict[str, Any]]:
    """Per source: articles archived (and relevant), newest article, last runs and next run when recorded."""
    configured: dict[str, Any] = {}
    try:
        from crawler.sources import load_sources
        for path in (settings.sources_file, settings.demo_sources_file):
            if path.exists():
                for src in load_sources(path):
                    configured.setdefault(src.name, src)
    except ImportError:
        pass
    except Exception as exc:  # noqa: BLE001 - a broken sources file must not take the page down
        log.warning("could not read the sources files: %s", exc)
    resp = es.search(index=settings.articles_alias, size=0, aggs={"by_source": {
        "terms": {"field": "source", "size": 1000},
        "aggs": {"relevant": {"filter": {"term": {"relevant": True}}},
                 "newest": {"max": {"field": "published_at"}}, "crawled": {"max": {"field": "crawled_at"}}}}})
    archived = {b["key"]: b for b in resp["aggregations"]["by_source"]["buckets"]}
    summaries: dict[str, Any] = {}
    runs_of: dict[str, list] = {}
    try:
        from indexer import runs as runs_mod
    except ImportError:
        runs_mod = None
    if runs_mod is not None and es.indices.exists(index=settings.runs_index):
        summaries = runs_mod.source_summaries(es, settings)
        for name in summaries:
            runs_of[name] = runs_mod.last_runs(es, settings, source=name, n=runs_per_source)
    out = []
    for name in sorted(set(configured) | set(archived) | set(summaries)):
        b = archived.get(name)
        src = configured.get(name)
        summ = summaries.get(name)
        schedule = ""
        if src is not None and getattr(src, "schedule", None) is not None:
            sch = src.schedule
            schedule = f"every {sch.interval / 60:g} min" if sch.interval else f"cron {sch.cron}"
        out.append({
            "source": name, "configured": src is not None, "homepage": getattr(src, "homepage", "") or "",
            "schedule": schedule,
            "articles": b["doc_count"] if b else 0, "relevant_articles": b["relevant"]["doc_count"] if b else 0,
            "newest_article": _parse_es_date(b["newest"].get("value")) if b else None,
            "last_crawled": _parse_es_date(b["crawled"].get("value")) if b else None,
            "runs": runs_of.get(name, []),
            "runs_total": getattr(summ, "runs", 0) if summ else 0,
            "last_error": getattr(summ, "last_error", "") if summ else "",
            "next_run_at": getattr(summ, "next_run_at", None) if summ else None,
        })
    # sources with articles or runs first, then the configured ones that never ran
    out.sort(key=lambda s: (not (s["articles"] or s["runs"]), s["source"]))
    return out


def archive_total(es: Elasticsearch, settings: Settings) -> int:
    return es.count(index=settings.articles_alias)["count"]
