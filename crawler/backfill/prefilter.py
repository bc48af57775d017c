"""The prefilter: one Aho-Corasick pass over a page's HTML says whether it could be about the topic.

Extraction and enrichment cost tens of milliseconds a page; a CC-NEWS month holds millions of
pages, almost none about the story. The prefilter skips, before any of that work, the pages that
the enrichment could not mark relevant, and keeps the others. It is built from the same seeds the
enrichment reads, so tuning the watchlist or the topic tunes it too:

- **Evidence of a concept** of the topic (``seeds/topic.yaml``) is a watchlist name of one of the
  concept's entity types or ids, in any of the forms the enrichment matches (its inflections, its
  possessives, its abbreviations and ambiguous forms in their exact case), or one of the concept's
  terms (the last word as a word start, so "bank" finds "banks", "banku", "banków").
- **A rule of the topic can make a page relevant** only when all of its concepts are present. The
  prefilter asks that of the *entity concepts* of each rule (those with entity types: platform,
  finance, regulator — the ones a name can stand for); concepts made of everyday words only (data,
  deal, ...) are taken as present, as they are on nearly every page. A rule whose score reaches the
  relevance threshold only with the title bonus also needs the page's title (``<title>``,
  ``og:title``, ``<h1>``) to show at least ``title_concepts`` concepts.
- **Where**: the text of the page's paragraphs, headings, quotes and table cells (scripts, styles
  and tags left out; a page with little paragraph text is read whole), so a "Share on Facebook"
  button or a "Bank holidays" menu does not count.

The same test is asked again of the extracted article's title and text (:meth:`passes_article`),
exactly what the enrichment reads, before the enrichment runs: about half of the pages that pass on
their HTML (a platform in a teaser, a bank in the comments) stop there.

The guarantee it is built for: every page the enrichment marks relevant passes. It is exact as long
as the enrichment finds the names and terms where the prefilter looks, as written; it cannot
follow the enrichment's one-letter misspellings ("Citygroup") or an inflection that changes the
start of a term's last word. It is checked exactly on the demo sites (tests/test_import_prefilter.py)
and measured on the benchmark (BENCHMARKS.md).

The enrichment functions it relies on (one place, this module): ``load_watchlist`` (entities:
``id``, ``type``, ``aliases_by_lang``, ``abbreviations``, ``ambiguous``), ``load_topic`` (concepts:
``name``, ``entity_types``, ``entity_ids``, ``phrases``; rules and document rules: ``concepts``,
``score``; ``support_min``, ``support_bonus``, ``max_support``, ``title_bonus``, ``title_concepts``),
``phrase_forms`` (inflection), ``norm_word`` and ``tokens``.
"""

from __future__ import annotations

import html as htmlmod
import re
from dataclasses import dataclass

import ahocorasick

from indexer.enrich.entities import norm_word
from indexer.enrich.inflection import phrase_forms
from indexer.enrich.text import tokens
from indexer.enrich.topic import Topic, load_topic
from indexer.enrich.watchlist import Watchlist, load_watchlist

MIN_PARAGRAPH_CHARS = 500       # less paragraph text than this: the page is read whole
_VOWELS = frozenset("aeiouyąęó")

_SCRIPT_RE = re.compile(r"<(script|style|noscript|template)\b", re.I)
_BLOCK_RE = re.compile(r"<(/?)(p|h[1-6]|title|blockquote|figcaption|td|dd)\b[^>]*>", re.I)
_TAG_RE = re.compile(r"<[^>]*>")
_TITLE_RE = re.compile(r"<title\b[^>]*>(.*?)</title|<h1\b[^>]*>(.*?)</h1", re.S | re.I)
_META_TITLE_RE = re.compile(r"""<meta\b[^>]*(?:og|twitter):title[^>]*>""", re.I)
_CONTENT_RE = re.compile(r"""\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


@dataclass(frozen=True)
class _Rule:
    anchors: frozenset[int]          # the entity concepts that must be present in the text
    needs_title: bool                # the rule reaches the threshold only with the title bonus


def _variants(words: list[str], written: list[str] | None = None, any_case: bool = True) -> set[str]:
    """How a lower-case phrase can be written: Capitalised, UPPER, as in the watchlist, lower case."""
    out = {" ".join(w[:1].upper() + w[1:] for w in words), " ".join(words).upper()}
    if any_case:
        out.add(" ".join(words))
    if written:
        out.add(" ".join(a + w[len(a):] if w.startswith(a.lower()) else w for w, a in zip(words, written)))
    return out


def _stem(word: str) -> str:
    """A term's last word as a word start: a final vowel dropped from longer words (dana -> dan...)."""
    word = word.rstrip("*")
    return word[:-1] if len(word) >= 5 and word[-1] in _VOWELS else word


class TopicPrefilter:
    """Decides from raw HTML whether a page could be relevant to the topic (see the module docstring)."""

    def __init__(self, watchlist: Watchlist, topic: Topic, threshold: float):
        self.topic = topic
        self.names = [c.name for c in topic.concepts]
        anchors = {i for i, c in enumerate(topic.concepts) if c.entity_types or c.entity_ids}
        self.rules = self._rules(topic, threshold, anchors)
        self.anchors = frozenset(anchors)
        self._automaton = self._build(watchlist, topic)

    @classmethod
    def from_settings(cls, settings) -> "TopicPrefilter":
        return cls(load_watchlist(settings.watchlist_file), load_topic(settings.topic_file),
                   float(settings.relevance_threshold))

    # --- building ----------------------------------------------------------------------
    @staticmethod
    def _rules(topic: Topic, threshold: float, anchors: set[int]) -> list[_Rule]:
        index = {c.name: i for i, c in enumerate(topic.concepts)}
        reachable: list[tuple[frozenset[str], float]] = []
        for r in topic.rules:
            support = topic.support_bonus * topic.max_support if r.score >= topic.support_min else 0.0
            reachable.append((r.concepts, r.score + support))
        reachable += [(r.concepts, r.score) for r in topic.document_rules]
        rules = set()
        for concepts, best in reachable:
            if best + topic.title_bonus < threshold:
                continue            # this rule cannot make a page relevant, whatever the page
            needed = frozenset(index[c] for c in concepts) & anchors
            rules.add(_Rule(needed, needs_title=best < threshold))
        return sorted(rules, key=lambda r: (r.needs_title, len(r.anchors)))

    def _build(self, watchlist: Watchlist, topic: Topic) -> ahocorasick.Automaton:
        keys: dict[str, tuple[frozenset[int], bool]] = {}      # key -> (concepts, a word start only)

        def add(key: str, concepts: set[int], prefix: bool) -> None:
            if not key.strip() or not concepts:
                return
            old = keys.get(key)
            keys[key] = (old[0] | frozenset(concepts), old[1] and prefix) if old else (frozenset(concepts), prefix)

        for entity in watchlist:
            concepts = {i for i, c in enumerate(topic.concepts)
                        if entity.type in c.entity_types or entity.id in c.entity_ids}
            for aliases in entity.aliases_by_lang.values():
                for alias in aliases:
                    written = [t.text for t in tokens(alias)]
                    for form in phrase_forms([norm_word(w) for w in written]):
                        for key in _variants(list(form), written, any_case=not alias[:1].isupper()):
                            add(key, concepts, False)
            for alias in (*entity.abbreviations, *entity.ambiguous):      # exact case, whole word
                add(" ".join(t.text for t in tokens(alias)), concepts, False)
        for i, concept in enumerate(topic.concepts):
            for phrase in concept.phrases:
                words = [w.rstrip("*") for w in phrase]
                for key in _variants(words[:-1] + [_stem(phrase[-1])]):
                    add(key, {i}, True)
        automaton = ahocorasick.Automaton()
        for key, (concepts, prefix) in keys.items():
            automaton.add_word(key, (len(key), concepts, prefix))
        automaton.make_automaton()
        return automaton

    # --- reading a page -----------------------------------------------------------------
    def concepts_in(self, text: str, only: frozenset[int] | None = None) -> set[int]:
        """Concept indexes with evidence in plain ``text`` (whole words; a term's last word as a start)."""
        present: set[int] = set()
        n = len(text)
        for end, (length, concepts, prefix) in self._automaton.iter(text):
            if only is not None:
                concepts = concepts & only
            if concepts <= present:
                continue
            start = end - length + 1
            if start > 0 and text[start - 1].isalnum():
                continue
            if not prefix and end + 1 < n and text[end + 1].isalnum():
                continue
            present |= concepts
        return present

    def passes(self, page: str) -> bool:
        """True when the page (decoded HTML) could be marked relevant by the enrichment."""
        visible = _without_scripts(page)
        return self._decide(self.concepts_in(_body_text(visible), self.anchors), lambda: _title_text(visible))

    def passes_article(self, title: str, text: str) -> bool:
        """The same question asked of an extracted article's title and text (what the enrichment reads):
        the second, exact stage, between extraction and enrichment."""
        title = " ".join((title or "").split())
        body = f"{title}\n\n{' '.join((text or '').split())}"
        return self._decide(self.concepts_in(body, self.anchors), lambda: title)

    def _decide(self, present: set[int], title) -> bool:
        candidates = [r for r in self.rules if r.anchors <= present]
        if not candidates:
            return False
        if any(not r.needs_title for r in candidates):
            return True
        return len(self.concepts_in(title())) >= self.topic.title_concepts

    def explain(self, page: str) -> dict[str, list[str]]:
        """What the prefilter saw (tests, ``--explain``): entity concepts in the text, concepts in the title."""
        visible = _without_scripts(page)
        return {"text": sorted(self.names[i] for i in self.concepts_in(_body_text(visible), self.anchors)),
                "title": sorted(self.names[i] for i in self.concepts_in(_title_text(visible)))}


def _without_scripts(page: str) -> str:
    """The page without the contents of scripts, styles, noscript and templates, whitespace collapsed."""
    parts: list[str] = []
    pos = 0
    for m in _SCRIPT_RE.finditer(page):
        if m.start() < pos:
            continue
        parts.append(page[pos:m.start()])
        close = m.group(1)
        end = page.find(f"</{close}", m.end())
        if end < 0:
            end = page.find(f"</{close.upper()}", m.end())
        pos = len(page) if end < 0 else end
    parts.append(page[pos:])
    return " ".join(" ".join(parts).split())


def _body_text(visible: str) -> str:
    """Text of paragraphs, headings, quotes and cells; the whole page when that is short."""
    out: list[str] = []
    opened: int | None = None
    for m in _BLOCK_RE.finditer(visible):
        if not m.group(1):
            opened = m.end()
        elif opened is not None:
            out.append(visible[opened:m.start()])
            opened = None
    text = _TAG_RE.sub(" ", " | ".join(out))
    if len(text) < MIN_PARAGRAPH_CHARS:
        text = _TAG_RE.sub(" ", visible)
    return htmlmod.unescape(text)


def _title_text(visible: str) -> str:
    head = visible[:200_000]
    parts = [g for m in _TITLE_RE.finditer(head) for g in m.groups() if g]
    for m in _META_TITLE_RE.finditer(head):
        c = _CONTENT_RE.search(m.group(0))
        if c:
            parts.append(c.group(1) or c.group(2) or "")
    return htmlmod.unescape(_TAG_RE.sub(" ", " | ".join(parts)))
