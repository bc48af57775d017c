"""Text primitives shared by every enrichment step: word tokens with offsets, sentences.

Everything downstream (lemmas, entity matching, topic windows, shingles) sees the same
tokens, so a "word" means one thing in the whole enrichment: a run of letters/digits,
optionally joined by an apostrophe ("Facebook's", "Google’a", "O'Brien"). A French or Italian
elided article, pronoun or preposition is a word of its own ("L'accord" -> "L", "accord";
"d'Amazon" -> "d", "Amazon"; "dell'Unione" -> "dell", "Unione"), so the word after it is
matched, lemmatised and case-checked like any other.
"""

from __future__ import annotations

import re
from typing import NamedTuple

WORD_RE = re.compile(r"[^\W_]+(?:['’ʼ][^\W_]+)*")
APOSTROPHES = "'’ʼ"

# French / Italian (and Catalan) words that lose their vowel before another word: "l'", "d'", "qu'", "dell'"
ELISIONS = frozenset("""
l d j m n s t c qu lorsqu puisqu jusqu quoiqu presqu
dell dall nell sull all coll quest quell un
""".split())

# abbreviations after which a full stop does not end a sentence (lower case, no dot)
_ABBREVIATIONS = frozenset("""
mr mrs ms dr prof inc corp co ltd st jr sr vs etc eg ie no nr jan feb mar apr jun jul aug sep sept oct nov dec
u s k e p gen sen rep gov fig ok np tj itp itd tzw tzn ws mln mld tys dr hab inż im al ul godz pt pn wg ang zob
""".split())

_WORD_BEFORE_DOT_RE = re.compile(r"([^\W\d_]+)\.$")
_SENTENCE_END_RE = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s+|$)|\n\s*\n|\n")


class Token(NamedTuple):
    text: str      # as written
    start: int     # offset in the source string
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower()


_HAS_APOSTROPHE = re.compile("[" + APOSTROPHES + "]")
_WORD_PARTS_RE = re.compile(r"([^\W_]+)((?:['’ʼ][^\W_]+)*)")   # WORD_RE, the apostrophe part apart


def tokens(text: str) -> list[Token]:
    """Word tokens with their offsets (an elided article before an apostrophe is a token of its own)."""
    out: list[Token] = []
    append = out.append
    new = tuple.__new__
    for m in _WORD_PARTS_RE.finditer(text or ""):
        start, end = m.span()
        if m.end(1) == end:   # nearly every word: no apostrophe, no elision to split
            append(new(Token, (m.group(), start, end)))
            continue
        word = m.group()
        head, rest = split_apostrophe(word)
        if rest and len(rest) >= 2 and head.lower() in ELISIONS and rest[0].isalpha():
            append(Token(head, start, start + len(head)))
            rest_start = start + len(head) + 1
            append(Token(word[len(head) + 1:], rest_start, end))
        else:
            append(Token(word, start, end))
    return out


def split_apostrophe(word: str) -> tuple[str, str]:
    """'Facebook's' -> ('Facebook', 's'); 'Google’a' -> ('Google', 'a'); other words -> (word, '')."""
    m = _HAS_APOSTROPHE.search(word)
    if m is None:
        return word, ""
    i = m.start()
    return word[:i], word[i + 1:]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of sentences: split at . ! ? and line breaks, not after common abbreviations."""
    spans: list[tuple[int, int]] = []
    start = 0
    n = len(text)
    for m in _SENTENCE_END_RE.finditer(text):
        end = m.end()
        if m.group()[0] == ".":
            before = _WORD_BEFORE_DOT_RE.search(text[max(0, m.start() - 12):m.start() + 1])
            if before and (before.group(1).lower() in _ABBREVIATIONS or len(before.group(1)) == 1):
                continue
            nxt = text[end:end + 3].lstrip()
            if nxt[:1].islower() or nxt[:1].isdigit():  # "3.5 mln", "ok. tys." ...
                continue
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    if start < n and text[start:].strip():
        spans.append((start, n))
    # trim whitespace
    out = []
    for s, e in spans:
        segment = text[s:e]
        stripped = segment.strip()
        if stripped:
            s += len(segment) - len(segment.lstrip())
            out.append((s, s + len(stripped)))
    return out


def sentence_starts(sentence_of: list[int]) -> set[int]:
    """Indexes of the tokens that start a sentence (``sentence_of[k]`` = the sentence of token k)."""
    if not sentence_of:
        return set()
    return {0, *(k for k, (a, b) in enumerate(zip(sentence_of, sentence_of[1:]), 1) if a != b)}


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]
