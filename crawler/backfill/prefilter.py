"""The prefilter: a cheap pass over a page's HTML says whether it could be about the topic.

Extraction and enrichment cost tens of milliseconds a page; a CC-NEWS month holds millions of
pages, almost none about the story. The prefilter skips, before any of that work, the pages that
the enrichment could not mark relevant, and keeps the others. It is built from the same seeds the
enrichment reads, so tuning the watchlist or the topic tunes it too:

- **A rule of the topic can make a page relevant** only when every one of its concepts is present
  (``seeds/topic.yaml``: a window scores the best rule whose concepts are all there). The
  prefilter asks that of every concept of each rule that can reach the relevance threshold (with
  the most support and title bonus it could get); a rule that reaches it only with the title bonus
  also needs the page's title (``<title>``, ``og:title``, ``<h1>``) to show ``title_concepts`` of
  the concepts that count there.
- **Evidence of an entity concept** (platform, finance, regulator: concepts with entity types or
  ids) is a watchlist name of one of its entities, found by one Aho-Corasick pass in any of the
  forms the enrichment matches (its inflections, possessives, abbreviations and ambiguous forms in
  their exact case), or one of the concept's terms.
- **Evidence of a term** is its words, each matched as the enrichment matches it — the word's
  lemma or its lower-case form equals the term's word, or starts with it for ``word*`` — with the
  lemmas of Polish and English (both readings) and of the language the page declares. Every word
  of a term must be on the page; a ``near`` concept (customer data as an information word beside
  a money word) is present when its own terms are, or both of its parts. Word by word and on the
  whole page, this is looser than the enrichment (which wants the words in a row, the ``near``
  parts close, every concept in one window of sentences): it only ever keeps more.
- **Where**: the text of the page's paragraphs, headings, quotes and table cells (scripts, styles
  and tags left out; a page with little paragraph text is read whole) and its title, so a "Share
  on Facebook" button or a "Bank holidays" menu does not count.

The same test is asked again of the extracted article's title and text (:meth:`passes_article`),
exactly what the enrichment reads and in the article's own language, before the enrichment runs.

The guarantee it is built for: every page the enrichment marks relevant passes. It is exact as long
as the enrichment finds the names and words where the prefilter looks, as written; it cannot
follow the enrichment's one-letter misspellings of names ("Citygroup"), and a page in a language
other than Polish and English that does not declare it (``<html lang>``) is read with the Polish
and English lemmas and its words as written. It is checked exactly on the demo sites
(tests/test_import_prefilter.py) and measured on the benchmark (BENCHMARKS.md).

The enrichment functions it relies on (one place, this module): ``load_watchlist`` (entities:
``id``, ``type``, ``aliases_by_lang``, ``abbreviations``, ``ambiguous``), ``load_topic`` (concepts:
``name``, ``entity_types``, ``entity_ids``, ``phrases``, ``near``, ``helper``; rules and document
rules: ``concepts``, ``score``; ``support_min``, ``support_bonus``, ``max_support``,
``title_bonus``, ``title_concepts``, ``title_concepts_of``), ``phrase_forms`` (inflection),
``norm_word``, ``lemma_table``, ``normalize_lang``, ``detect_language`` and ``tokens``.
"""

from __future__ import annotations

import html as htmlmod
import re
from dataclasses import dataclass

import ahocorasick

from indexer.enrich.dictionaries import SUPPORTED_LANGUAGES
from indexer.enrich.entities import NORM_TABLE, norm_word
from indexer.enrich.inflection import phrase_forms
from indexer.enrich.language import detect_language, normalize_lang
from indexer.enrich.lemmas import lemma_table
from indexer.enrich.text import APOSTROPHES, ELISIONS, WORD_RE, tokens
from indexer.enrich.topic import Topic, load_topic
from indexer.enrich.watchlist import Watchlist, load_watchlist

MIN_PARAGRAPH_CHARS = 500       # less paragraph text than this: the page is read whole
MEMO_WORDS = 300_000            # words remembered per language set (news vocabulary repeats)
NEAR_SLACK = 2                  # words more than a ``near`` allows (an inline element the extraction drops)
HEAD = 4                        # letters of a word's beginning compared before it is lemmatised
PAGE_LANGS = (None, "en")       # Polish and English lemmas: a page is read with both

_BLOCKS = "p|h[1-6]|title|blockquote|figcaption|td|dd"
# from a block's opening tag to the next closing tag of a block (what a nested or unclosed block holds is kept)
_BLOCK_RE = re.compile(rf"<(?:{_BLOCKS})\b[^>]*>(.*?)</(?:{_BLOCKS})\s*>", re.I | re.S)
# the enrichment's tokens (indexer.enrich.text.tokens) in one pass: an elided article or preposition before an
# apostrophe is a word of its own ("l'accord", "d'Amazon"), otherwise WORD_RE
_WORDS_RE = re.compile(r"(?=[^\W_]{1,7}[%s])(?i:%s)(?=[%s][^\W\d_](?:[^\W_]|[%s][^\W_]))|%s"
                       % (APOSTROPHES, "|".join(sorted(ELISIONS, key=len, reverse=True)), APOSTROPHES, APOSTROPHES,
                          WORD_RE.pattern))
_SCRIPT_RE = re.compile(r"<(script|style|noscript|template)\b", re.I)
_TAG_RE = re.compile(r"<[^>]*>")
_TITLE_RE = re.compile(r"<title\b[^>]*>(.*?)</title|<h1\b[^>]*>(.*?)</h1", re.S | re.I)
_META_TITLE_RE = re.compile(r"""<meta\b[^>]*(?:og|twitter):title[^>]*>""", re.I)
_CONTENT_RE = re.compile(r"""\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)
_HTML_LANG_RE = re.compile(r"""<html[^>]*\slang\s*=\s*["']?([A-Za-z]{2,3})""", re.I)


@dataclass(frozen=True)
class _Rule:
    concepts: frozenset[int]         # every concept of the rule: all must be present in the text
    needs_title: bool                # the rule reaches the threshold only with the title bonus


def _variants(words: list[str], written: list[str] | None = None, any_case: bool = True) -> set[str]:
    """How a lower-case phrase can be written: Capitalised, UPPER, as in the watchlist, lower case."""
    out = {" ".join(w[:1].upper() + w[1:] for w in words), " ".join(words).upper()}
    if any_case:
        out.add(" ".join(words))
    if written:
        out.add(" ".join(a + w[len(a):] if w.startswith(a.lower()) else w for w, a in zip(words, written)))
    return out


class _TermWords:
    """The topic's terms word by word: which words of a page could be which word of which term.

    A page's words are looked up once per language set and remembered (most words of news repeat),
    so a page costs a regular expression and a few set operations."""

    def __init__(self, topic: Topic):
        self.phrases: list[tuple[int, int]] = []            # phrase id -> (concept, number of words)
        self.exact: dict[str, list[tuple[int, int]]] = {}   # word of a term -> [(phrase id, position)]
        self.prefix: list[tuple[str, int, int]] = []        # word* of a term: (stem, phrase id, position)
        for ci, concept in enumerate(topic.concepts):
            for phrase in concept.phrases:
                pid = len(self.phrases)
                self.phrases.append((ci, len(phrase)))
                for k, word in enumerate(phrase):
                    if word.endswith("*"):
                        self.prefix.append((word[:-1], pid, k))
                    else:
                        self.exact.setdefault(word, []).append((pid, k))
        # the first letters of the term words: a word that starts otherwise is not lemmatised, unless a
        # dictionary gives it a term word as its lemma ("bought" -> buy, "kept" -> keep); the rules simplemma
        # applies to words no dictionary knows change endings, not beginnings
        self.heads = frozenset(w[:HEAD] for w in self.exact) | frozenset(stem[:HEAD] for stem, _, _ in self.prefix)
        self.short_stems = tuple(stem for stem, _, _ in self.prefix if len(stem) < HEAD)
        self.stems = tuple({stem for stem, _, _ in self.prefix})
        self._irregular: dict[str, frozenset[str]] = {}
        names = {c.name: i for i, c in enumerate(topic.concepts)}
        self.near = [(ci, names[n.first], names[n.second]) for ci, c in enumerate(topic.concepts) for n in c.near]
        self.near_spans = [(ci, names[n.first], names[n.second], n.within + NEAR_SLACK, n.ordered)
                           for ci, c in enumerate(topic.concepts) for n in c.near]
        # per language set: the words looked up, and those that are a term's word (with what they can be)
        self._memo: dict[tuple, tuple[set[str], set[str], dict[str, tuple[tuple[int, int], ...]]]] = {}

    def _parts(self, word: str, langs: tuple, irregular: frozenset[str]) -> tuple[tuple[int, int], ...]:
        """(phrase id, position) of every term word this written word can be (enrichment's ``_word_match``)."""
        low = NORM_TABLE[word]
        if low[:HEAD] not in self.heads and not low.startswith(self.short_stems) and low not in irregular:
            return ()
        forms = {low, *(lemma_table(lang)[word] for lang in langs)}
        out: set[tuple[int, int]] = set()
        for form in forms:
            out.update(self.exact.get(form, ()))
            if form.startswith(self.stems):
                out.update((pid, k) for stem, pid, k in self.prefix if form.startswith(stem))
        return tuple(out)

    def irregular(self, lang: str) -> frozenset[str]:
        """Forms of a dictionary whose lemma is a term word with another beginning (read once per process)."""
        found = self._irregular.get(lang)
        if found is None:
            found = self._irregular[lang] = irregular_forms(lang, frozenset(self.exact), HEAD)
        return found

    def concepts(self, words: list[str], langs: tuple) -> set[int]:
        """Concepts whose terms (or ``near`` parts) could all be among ``words`` (see the module docstring)."""
        words = set(words)
        memo = self._memo.get(langs)
        if memo is None or len(memo[0]) > MEMO_WORDS:
            memo = self._memo[langs] = (set(), set(), {})
        seen, hit_words, hits = memo
        new = words - seen
        irregular = frozenset().union(*(self.irregular(d) for d in _dictionaries(langs))) if new else frozenset()
        for w in new:
            parts = self._parts(w, langs, irregular)
            if parts:
                hits[w] = parts
                hit_words.add(w)
            seen.add(w)
        got: dict[int, set[int]] = {}
        for w in words & hit_words:
            for pid, k in hits[w]:
                got.setdefault(pid, set()).add(k)
        present = {self.phrases[pid][0] for pid, ks in got.items() if len(ks) == self.phrases[pid][1]}
        changed = True
        while changed:
            changed = False
            for ci, a, b in self.near:
                if ci not in present and a in present and b in present:
                    present.add(ci)
                    changed = True
        return present


    def matches(self, words: list[str], langs: tuple) -> dict[int, list[tuple[int, int]]]:
        """Concept -> (first, end) token spans of its terms in a word list (a term's words in a row), and of
        its ``near`` pairs (within the distance the topic allows, and a little more). Call after
        :meth:`concepts` of the same text (its words are looked up there)."""
        hits = self._memo[langs][2]
        per_token = [hits.get(w, ()) for w in words]
        n = len(words)
        spans: dict[int, list[tuple[int, int]]] = {}
        for i, parts in enumerate(per_token):
            for pid, k in parts:
                if k:
                    continue
                ci, length = self.phrases[pid]
                if length > 1 and (i + length > n or not all((pid, j) in per_token[i + j] for j in range(1, length))):
                    continue
                spans.setdefault(ci, []).append((i, i + length))
        direct = {ci: list(v) for ci, v in spans.items()}      # near pairs are made of terms, not of other pairs
        for ci, a, b, within, ordered in self.near_spans:
            firsts, seconds = direct.get(a, ()), direct.get(b, ())
            found = [(min(a0, b0), max(a1, b1)) for a0, a1 in firsts for b0, b1 in seconds
                     if (a0, a1) != (b0, b1) and max(b0 - a1, a0 - b1) <= within and not (ordered and b0 < a1)]
            if found:
                spans.setdefault(ci, []).extend(found)
        return spans


class TopicPrefilter:
    """Decides from raw HTML whether a page could be relevant to the topic (see the module docstring)."""

    def __init__(self, watchlist: Watchlist, topic: Topic, threshold: float):
        self.topic = topic
        self.names = [c.name for c in topic.concepts]
        self.rules = self._rules(topic, threshold)
        self.title_concepts_of = frozenset(i for i, c in enumerate(topic.concepts) if c.name in topic.title_concepts_of)
        self._automaton = self._build(watchlist, topic)
        self._terms = _TermWords(topic)

    @classmethod
    def from_settings(cls, settings) -> "TopicPrefilter":
        return cls(load_watchlist(settings.watchlist_file), load_topic(settings.topic_file),
                   float(settings.relevance_threshold))

    # --- building ----------------------------------------------------------------------
    @staticmethod
    def _rules(topic: Topic, threshold: float) -> list[_Rule]:
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
            rules.add(_Rule(frozenset(index[c] for c in concepts), needs_title=best < threshold))

        def asked_by(o: _Rule, r: _Rule) -> bool:   # o passes whenever r does: r need not be asked
            return o != r and o.concepts <= r.concepts and (r.needs_title or not o.needs_title)

        minimal = {r for r in rules if not any(asked_by(o, r) for o in rules)}
        return sorted(minimal, key=lambda r: (r.needs_title, len(r.concepts), sorted(r.concepts)))

    def _build(self, watchlist: Watchlist, topic: Topic) -> ahocorasick.Automaton:
        """The watchlist's names (every form the enrichment matches) -> the entity concepts they stand for."""
        keys: dict[str, frozenset[int]] = {}

        def add(key: str, concepts: set[int]) -> None:
            if key.strip() and concepts:
                keys[key] = keys.get(key, frozenset()) | frozenset(concepts)

        for entity in watchlist:
            concepts = {i for i, c in enumerate(topic.concepts)
                        if entity.type in c.entity_types or entity.id in c.entity_ids}
            for aliases in entity.aliases_by_lang.values():
                for alias in aliases:
                    written = [t.text for t in tokens(alias)]
                    for form in phrase_forms([norm_word(w) for w in written]):
                        for key in _variants(list(form), written, any_case=not alias[:1].isupper()):
                            add(key, concepts)
            for alias in (*entity.abbreviations, *entity.ambiguous):      # exact case, whole word
                add(" ".join(t.text for t in tokens(alias)), concepts)
        automaton = ahocorasick.Automaton()
        for key, concepts in keys.items():
            automaton.add_word(key, (len(key), concepts))
        automaton.make_automaton()
        return automaton

    # --- reading a page -----------------------------------------------------------------
    def names_in(self, text: str) -> set[int]:
        """Entity concepts with a watchlist name in plain ``text`` (whole words, single spaces)."""
        present: set[int] = set()
        n = len(text)
        for end, (length, concepts) in self._automaton.iter(text):
            if concepts <= present:
                continue
            start = end - length + 1
            if start > 0 and text[start - 1].isalnum():
                continue
            if end + 1 < n and text[end + 1].isalnum():
                continue
            present |= concepts
        return present

    def concepts_in(self, text: str, langs: tuple = PAGE_LANGS, words: list[str] | None = None) -> set[int]:
        """Concept indexes that could be present in plain ``text`` (names, and terms word by word)."""
        return self.names_in(text) | self._terms.concepts(_words(text) if words is None else words, langs)

    def passes(self, page: str) -> bool:
        """True when the page (decoded HTML) could be marked relevant by the enrichment."""
        visible = _without_scripts(page)
        title = _title_text(visible)
        langs = _page_langs(page)
        text = f"{title}\n\n{_body_text(visible)}"
        return self._decide(text, lambda: self.concepts_in(title, langs), langs)

    def passes_article(self, title: str, text: str, lang: str | None = None) -> bool:
        """The same question asked of an extracted article's title, text and language (what the
        enrichment reads): the second, exact stage, between extraction and enrichment."""
        title = " ".join((title or "").split())
        body = f"{title}\n\n{' '.join((text or '').split())}"
        code = normalize_lang(lang) or detect_language(body)   # the language the enrichment will read it in
        langs = (code,) if code else PAGE_LANGS
        return self._decide(body, lambda: self.concepts_in(title, langs), langs)

    def _decide(self, text: str, title, langs: tuple) -> bool:
        words = _words(text)
        names = self.names_in(text)
        present = names | self._terms.concepts(words, langs)
        candidates = [r for r in self.rules if r.concepts <= present]
        if not candidates:
            return False
        # now with every term's words in a row and every ``near`` pair close together
        present = names | set(self._terms.matches(words, langs))
        candidates = [r for r in candidates if r.concepts <= present]
        if not candidates:
            return False
        if any(not r.needs_title for r in candidates):
            return True
        return len(title() & self.title_concepts_of) >= self.topic.title_concepts

    def explain(self, page: str) -> dict[str, list[str]]:
        """What the prefilter saw (tests, ``--explain``): concepts in the text, concepts in the title."""
        visible = _without_scripts(page)
        title = _title_text(visible)
        return {"text": sorted(self.names[i] for i in self.concepts_in(f"{_body_text(visible)}\n{title}",
                                                                       _page_langs(page))),
                "title": sorted(self.names[i] for i in self.concepts_in(title, _page_langs(page)))}


def _words(text: str) -> list[str]:
    """The enrichment's tokens of ``text``, as written (an elided article before an apostrophe apart)."""
    return _WORDS_RE.findall(text)


def irregular_forms(lang: str, lemmas: frozenset[str], head: int) -> frozenset[str]:
    """The forms of ``lang``'s lemma dictionary whose lemma is one of ``lemmas`` and whose first ``head``
    letters are not the lemma's: one pass over the dictionary, kept in the dictionaries' cache folder
    (once per machine and topic)."""
    import hashlib
    import os
    import tempfile

    from indexer.enrich.dictionaries import cache_folder, dictionary_items

    key = hashlib.sha1("\n".join([lang, str(head), *sorted(lemmas)]).encode()).hexdigest()[:16]
    path = cache_folder() / f"prefilter-irregular-{lang}-{key}.txt"
    try:
        return frozenset(path.read_text(encoding="utf-8").split("\n")) - {""}
    except OSError:
        pass
    wanted = {w.encode(): w for w in lemmas}
    out = set()
    for form, value in dictionary_items(lang):
        lemma = wanted.get(value)
        if lemma is not None:
            low = form.lower()
            if low[:head] != lemma[:head]:
                out.add(low)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".prefilter.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(sorted(out)))
        os.replace(tmp, path)
    except OSError:
        pass    # a read-only cache folder: computed again by the next process
    return frozenset(out)


def _dictionaries(langs: tuple) -> tuple[str, ...]:
    """The simplemma dictionaries behind the lemmas of ``langs`` (None: Polish and English)."""
    out: list[str] = []
    for lang in langs:
        for d in (("pl", "en") if lang is None else (lang,)):
            if d in SUPPORTED_LANGUAGES and d not in out:
                out.append(d)
    return tuple(out)


def _page_langs(page: str) -> tuple:
    """Polish and English, and the language the page declares when the enrichment has its lemmas."""
    m = _HTML_LANG_RE.search(page, 0, 5000)
    lang = m.group(1).lower() if m else ""
    if lang and lang not in ("pl", "en") and lang in SUPPORTED_LANGUAGES:
        return (*PAGE_LANGS, lang)
    return PAGE_LANGS


def _without_scripts(page: str) -> str:
    """The page without the contents of scripts, styles, noscript and templates."""
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
    return " ".join(parts)


def _plain(fragment: str) -> str:
    """Tags out, entities decoded, whitespace collapsed."""
    return " ".join(htmlmod.unescape(_TAG_RE.sub(" ", fragment)).split())


def _body_text(visible: str) -> str:
    """Text of paragraphs, headings, quotes and cells; the whole page when that is short."""
    text = _plain(" | ".join(_BLOCK_RE.findall(visible)))
    if len(text) < MIN_PARAGRAPH_CHARS:
        text = _plain(visible)
    return text


def _title_text(visible: str) -> str:
    head = visible[:200_000]
    parts = [g for m in _TITLE_RE.finditer(head) for g in m.groups() if g]
    for m in _META_TITLE_RE.finditer(head):
        c = _CONTENT_RE.search(m.group(0))
        if c:
            parts.append(c.group(1) or c.group(2) or "")
    return _plain(" | ".join(parts))
