"""The query language, alone: a query string in, an AST out (pure Python, no Elasticsearch).

Syntax::

    facebook bank            both words (AND is implied)
    facebook OR meta         either
    NOT google, -google      without
    "card transactions"      a phrase
    bank*                    a prefix
    title:chase  source:demo-news  author:smith  lang:pl  entity:facebook
    site:bankier.pl          within a source's domain (its subdomains included)
    https://www.example.com/2018/08/story/     a pasted URL: that article (url: says it explicitly)
    *                        every article
    (facebook OR meta) AND (chase OR citigroup)

Malformed input raises :class:`QuerySyntaxError` (a :class:`~indexer.errors.BadQuery`) with a
message a person can act on and the position of the problem. :mod:`indexer.query.compile` turns
the AST into Elasticsearch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union
from urllib.parse import urlsplit

from rapidfuzz import fuzz, process

from indexer.errors import BadQuery

MAX_QUERY_LENGTH = 2_000
QUERY_FIELDS = ("title", "source", "author", "lang", "entity", "site", "url")
# Bounds that keep every query inside what Elasticsearch runs (checked here, so the person asking reads
# what to change, never an Elasticsearch error):
MAX_DEPTH = 20          # AND, OR, NOT inside each other: each is one bool level, and Elasticsearch refuses
                        # more than 30 (indices.query.bool.max_nested_depth; a term and the filters add ≤ 4)
MAX_TERMS = 200         # words, phrases and fields of one query (each becomes up to five clauses)
MAX_PREFIX_LENGTH = 500  # characters of a prefix (word* or url:…*); Elasticsearch refuses prefixes over 1,000


class QuerySyntaxError(BadQuery):
    def __init__(self, message: str, position: int | None = None):
        super().__init__(message)
        self.position = position


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
    kind: str      # TERM, ALL (a * alone), AND, OR, NOT, LPAREN, RPAREN
    pos: int
    term: Term | None = None
    text: str = ""


_FIELD_RE = re.compile(r"([A-Za-z_]+):")
_FIELD_ALIASES = {"authors": "author", "language": "lang", "entities": "entity", "src": "source",
                  "domain": "site", "inurl": "url"}
# a pasted address: http(s)://… or www.… up to the next space or quote
_URL_RE = re.compile(r"(?:https?://|www\.)[^\s\"]+", re.IGNORECASE)
_URL_TAIL = ".,;:!?'"          # sentence punctuation pasted with a URL, not part of it


def _url_at(q: str, i: int) -> tuple[str, int] | None:
    """The URL starting at position ``i`` and where to go on reading: trailing punctuation is read
    but not part of the URL, an unbalanced ``)`` is left to close a bracket."""
    m = _URL_RE.match(q, i)
    if not m:
        return None
    url, end = m.group(0), m.end()
    while url and (url[-1] in _URL_TAIL or (url[-1] == ")" and url.count(")") > url.count("("))):
        if url[-1] == ")":
            end = i + len(url) - 1
        url = url[:-1]
    if len(url) <= len("https://") and not url.lower().startswith("www."):
        return None
    return url, end


def _site(value: str) -> str:
    """What ``site:`` searches in: the host name, however the domain was written (a URL, a port, a path)."""
    value = value.strip().lower()
    try:
        host = urlsplit(value if "//" in value else "//" + value).hostname or ""
    except ValueError:  # an unclosed [ of an IPv6 address
        return ""
    return host.strip(".")


def _url_term(url: str) -> Term:
    """A URL as a term; a trailing * asks for every address that starts with it."""
    return Term(url.rstrip("*"), "url", prefix=url.endswith("*"))


def field_suggestion(name: str) -> str | None:
    """The field a misspelt field name most likely meant (``titel`` → ``title``), or None."""
    names = [*QUERY_FIELDS, *_FIELD_ALIASES]
    best = process.extractOne(name.lower(), names, scorer=fuzz.ratio, score_cutoff=70)
    return _FIELD_ALIASES.get(best[0], best[0]) if best else None


def _unknown_field(name: str, start: int, value: str) -> QuerySyntaxError:
    fields = ", ".join(f + ":" for f in QUERY_FIELDS)
    near = field_suggestion(name)
    if near:
        return QuerySyntaxError(f"Unknown field {name!r} at position {start + 1}: did you mean {near}:? "
                                f"The fields are {fields}", start)
    return QuerySyntaxError(f"Unknown field {name!r} at position {start + 1}: the fields are {fields}; "
                            f'to search for the words, put them in quotes ("{name}:{value}").', start)


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
        if found := _url_at(q, i):  # a pasted address is one term, not a field "https" and some words
            toks.append(_Tok("TERM", start, _url_term(found[0])))
            i = found[1]
            continue
        m = _FIELD_RE.match(q, i)
        if m and m.end() < n and not q[m.end()].isspace() and q[m.end()] not in "()":
            name = m.group(1).lower()
            name = _FIELD_ALIASES.get(name, name)
            if name in ("http", "https", "ftp"):
                raise QuerySyntaxError(f"{q[start:m.end()]} at position {start + 1} starts an address with no "
                                       "host after it: paste the whole URL.", start)
            if name not in QUERY_FIELDS:
                value = re.match(r'"[^"]*"?|[^\s()]*', q[m.end():]).group(0)
                raise _unknown_field(m.group(1), start, value)
            fld = name
            i = m.end()
            if fld == "url" and (found := _url_at(q, i)):
                toks.append(_Tok("TERM", start, _url_term(found[0])))
                i = found[1]
                continue
        if i < n and q[i] == '"':
            end = q.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError(f'The quote opened at position {i + 1} is never closed: add a closing ".', i)
            phrase = " ".join(q[i + 1:end].split())
            if fld == "site":
                phrase = _site(phrase)
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
        if fld is None and word and not word.strip("*"):
            toks.append(_Tok("ALL", start, text=word))   # * alone: every article
            continue
        if fld == "site":
            host = _site(word.rstrip("*"))
            if not host:
                raise QuerySyntaxError(f"site: at position {start + 1} needs a domain, e.g. site:bankier.pl.", start)
            toks.append(_Tok("TERM", start, Term(host, "site", prefix=word.endswith("*"))))
            continue
        prefix = word.endswith("*")
        core = word.rstrip("*")
        if not core.strip("*?"):
            raise QuerySyntaxError(f"{q[start:j]!r} at position {start + 1} has no letters: a prefix needs at "
                                   "least one character before the * (a * alone means every article).", start)
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
        return _combine(Or, children)

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while (t := self.peek()) is not None and t.kind in ("AND", "NOT", "TERM", "ALL", "LPAREN"):
            if t.kind == "AND":
                self.take()
                self._need_operand(t)
            children.append(self.parse_unary())
        return _combine(And, children)

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
        if t.kind == "ALL":
            self.take()
            return MatchAll()
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


def _combine(kind: type[And] | type[Or], children: list[Node]) -> Node:
    """``kind`` of the children, flattened (``a (b c)`` is ``a b c``; ``a OR (b OR c)`` is ``a OR b OR c``) and
    each child once (``bank bank`` is ``bank``): the same articles, fewer levels and clauses to run."""
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    unique = list(dict.fromkeys(flat))
    return unique[0] if len(unique) == 1 else kind(tuple(unique))


def depth(node: Node) -> int:
    """How many bool levels the query compiles to: AND, OR and NOT inside each other (a NOT among the
    children of an AND is part of that AND's level)."""
    if isinstance(node, Not):
        return 1 + depth(node.child)
    if isinstance(node, (And, Or)):
        inner = (c.child if isinstance(node, And) and isinstance(c, Not) else c for c in node.children)
        return 1 + max(depth(c) for c in inner)
    return 0


def terms_of(node: Node) -> list[Term]:
    """Every term of the query (positive or not)."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return terms_of(node.child)
    if isinstance(node, (And, Or)):
        return [t for c in node.children for t in terms_of(c)]
    return []


def _within_bounds(node: Node) -> Node:
    """The query, when it stays inside :data:`MAX_DEPTH`, :data:`MAX_TERMS` and :data:`MAX_PREFIX_LENGTH`."""
    levels = depth(node)
    if levels > MAX_DEPTH:
        raise QuerySyntaxError(f"The query puts {levels} groups (OR, AND, NOT in brackets) inside each other; the "
                               f"limit is {MAX_DEPTH}: write it with fewer levels of brackets.")
    terms = terms_of(node)
    if len(terms) > MAX_TERMS:
        raise QuerySyntaxError(f"The query has {len(terms):,} words, phrases and fields; the limit is {MAX_TERMS}: "
                               "search for fewer at once (a broader word, a prefix*, or one search per part).")
    for t in terms:
        if t.prefix and len(t.value) > MAX_PREFIX_LENGTH:
            raise QuerySyntaxError(f"The prefix {t.value[:30]!r}…* is {len(t.value):,} characters long; the limit "
                                   f"is {MAX_PREFIX_LENGTH}: shorten it.")
    return node


def parse_query(q: str) -> Node:
    """Parse the query language into an AST. Empty query: :class:`MatchAll`. A query beyond the bounds
    Elasticsearch can run (:data:`MAX_DEPTH`, :data:`MAX_TERMS`, :data:`MAX_PREFIX_LENGTH`) is a
    :class:`QuerySyntaxError` too."""
    if not (q or "").strip():
        return MatchAll()
    return _within_bounds(_Parser(_tokenize(q), q).parse())


def query_terms(node: Node) -> list[Term]:
    """The positive free-text terms of a query (for highlighting and the CLI)."""
    if isinstance(node, Term):
        return [node] if node.field in (None, "title") else []
    if isinstance(node, (And, Or)):
        return [t for c in node.children for t in query_terms(c)]
    return []
