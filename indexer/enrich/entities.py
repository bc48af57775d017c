"""Entity extraction: watchlist entities in English and Polish text, plus other proper names.

The matcher is built once per watchlist (per process): every alias is expanded into its
inflected forms (:mod:`indexer.enrich.inflection`) and all forms go into one Aho-Corasick
automaton (pyahocorasick) over normalised text: lower-case words joined by single spaces,
possessive/Polish endings after an apostrophe dropped ("Facebook's", "Google’a" -> google).
A hit counts when it covers whole words, passes the case rule (a capitalised alias needs a
capitalised word), is not vetoed by a neighbouring word, and - for ambiguous aliases - is
confirmed by the entity's other names or by context words nearby. Capitalised words left
unmatched and unknown to the Polish/English dictionaries are compared with long names by edit
distance (rapidfuzz), which catches misspellings such as "Citygroup" or "Zuckerburg".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate

import ahocorasick
import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from indexer.enrich.dictionaries import is_known
from indexer.enrich.inflection import CONSONANT_ENDINGS, phrase_forms
from indexer.enrich.text import APOSTROPHES, ELISIONS, Token, sentence_spans, split_apostrophe, tokens
from indexer.enrich.text import sentence_starts as sentence_starts_of
from indexer.enrich.watchlist import Entity, Watchlist, load_watchlist  # noqa: F401 - re-exported for the UI

NORMAL, EXACT, AMBIGUOUS = "normal", "exact", "ambiguous"
FUZZY_MIN_LEN = 8   # shorter names have too many one-letter neighbours (Goldman/Goodman, Nadella/Nardella)


def norm_word(word: str) -> str:
    """Lower case, apostrophe ending dropped: the unit the automaton matches on."""
    low = word.lower()
    if "'" not in low and "’" not in low and "ʼ" not in low:
        return low
    base, suffix = split_apostrophe(low)
    if not suffix:
        return base
    return base if len(suffix) <= 3 or suffix in {"owi", "iem", "ach", "ami"} else base + suffix


class _NormTable(dict):
    """word as written -> :func:`norm_word`, remembered (a plain dict lookup for a word seen before)."""

    __slots__ = ()
    MAX = 100_000

    def __missing__(self, word: str) -> str:
        if len(self) >= self.MAX:
            self.clear()
        value = self[word] = norm_word(word)
        return value


NORM_TABLE = _NormTable()


@dataclass(frozen=True)
class AliasForm:
    entity: int                 # index into the watchlist's entities
    kind: str                   # NORMAL, EXACT, AMBIGUOUS
    alias: str                  # as written in the watchlist
    alias_tokens: tuple[str, ...]
    n_tokens: int
    langs: frozenset[str]       # languages the alias applies to ("any" = all)
    capital: bool               # the alias starts with a capital letter


@dataclass
class Mention:
    entity: int
    start_tok: int
    end_tok: int                # exclusive
    kind: str
    fuzzy: bool = False


@dataclass
class EntityHit:
    entity: Entity
    count: int = 0
    in_title: bool = False
    in_lead: bool = False
    first: int = 10 ** 9
    mentions: list[Mention] = field(default_factory=list)


class EntityMatcher:
    def __init__(self, watchlist: Watchlist):
        self.watchlist = watchlist
        self.entities = watchlist.entities
        self.automaton = ahocorasick.Automaton()
        table: dict[str, list[AliasForm]] = {}
        fuzzy_choices: dict[str, int] = {}
        for ei, ent in enumerate(self.entities):
            for lang, aliases in ent.aliases_by_lang.items():
                for alias in aliases:
                    toks = tuple(t.text for t in tokens(alias))
                    if not toks:
                        continue
                    form = AliasForm(ei, NORMAL, alias, toks, len(toks), frozenset([lang]), alias[0].isupper())
                    for ph in phrase_forms([norm_word(t) for t in toks]):
                        table.setdefault(" ".join(ph), []).append(form)
                    if ent.fuzzy and len(toks) == 1 and len(toks[0]) >= FUZZY_MIN_LEN and toks[0][0].isupper():
                        fuzzy_choices[toks[0].lower()] = ei
            for kind, aliases in ((EXACT, ent.abbreviations), (AMBIGUOUS, ent.ambiguous)):
                for alias in aliases:
                    toks = tuple(t.text for t in tokens(alias))
                    if not toks:
                        continue
                    form = AliasForm(ei, kind, alias, toks, len(toks), frozenset(["any"]), alias[0].isupper())
                    table.setdefault(" ".join(norm_word(t) for t in toks), []).append(form)
        for key, forms in table.items():
            self.automaton.add_word(key, (key, tuple(forms)))
        self.automaton.make_automaton()
        self.fuzzy_keys = list(fuzzy_choices)
        self.fuzzy_entity = fuzzy_choices

    # -- matching -------------------------------------------------------------------
    def find(self, toks: list[Token], lang: str | None, sentence_of: list[int], text: str = "",
             words: list[str] | None = None) -> list[Mention]:
        """Mentions in a token list (sentence_of[i] = sentence index of token i; text = the tokens' source;
        ``words`` = :func:`norm_word` of each token, when the caller has them already)."""
        if words is None:
            words = [norm_word(t.text) for t in toks]
        # where each word starts and ends in the normalised text (words joined by single spaces)
        begins = [0, *accumulate(len(w) + 1 for w in words)][:-1]
        starts: dict[int, int] = dict(zip(begins, range(len(words))))
        ends: dict[int, int] = dict(zip((b + len(w) - 1 for b, w in zip(begins, words)), range(len(words))))
        normalized = " ".join(words)
        lang = (lang or "")[:2]
        candidates: list[Mention] = []
        for end, (key, forms) in self.automaton.iter(normalized):
            start = end - len(key) + 1
            if start not in starts or end not in ends:
                continue
            i, j = starts[start], ends[end] + 1
            for form in forms:
                if "any" not in form.langs and lang and lang not in form.langs:
                    continue
                if not self._case_ok(form, toks, i, j, text):
                    continue
                ent = self.entities[form.entity]
                if ent.not_before and j < len(toks) and words[j] in ent.not_before:
                    continue
                if ent.not_after and i > 0 and words[i - 1] in ent.not_after:
                    continue
                kind = form.kind
                if kind == NORMAL and ent.ambiguous_after and i > 0 and words[i - 1] in ent.ambiguous_after:
                    kind = AMBIGUOUS
                candidates.append(Mention(form.entity, i, j, kind))
        sentence_starts = sentence_starts_of(sentence_of)
        named = {k for m in candidates if m.kind != AMBIGUOUS for k in range(m.start_tok, m.end_tok)}
        candidates = [m for m in candidates if m.kind != AMBIGUOUS
                      or not self._inside_longer_name(m, toks, text, sentence_starts, named)]
        mentions = _non_overlapping(candidates)
        mentions.extend(self._fuzzy(toks, words, mentions))
        return self._confirm_ambiguous(mentions, words, sentence_of)

    @staticmethod
    def _case_ok(form: AliasForm, toks: list[Token], i: int, j: int, text: str) -> bool:
        if form.kind == NORMAL:
            # every capitalised word of the alias must be capitalised in the text ("U.S. bank" is not "U.S. Bank")
            return all(not a[:1].isupper() or t.text[:1].isupper() for a, t in zip(form.alias_tokens, toks[i:j]))
        written = tuple(split_apostrophe(t.text)[0] for t in toks[i:j])
        if written != form.alias_tokens:
            return False
        return True

    @staticmethod
    def _inside_longer_name(m: "Mention", toks: list[Token], text: str, sentence_starts: set[int],
                            named: set[int]) -> bool:
        """An ambiguous name glued to another capitalised word: "Fifth Third Bancorp", "Chevy Chase", "CMA CGM".

        A capitalised dictionary word starting the sentence ("Spółka Meta") or another watchlist name
        ("Facebook Messenger") does not make it part of a longer name.
        """
        i, j = m.start_tok, m.end_tok
        if (i > 0 and i - 1 not in named and toks[i - 1].text[:1].isupper()
                and not text[toks[i - 1].end:toks[i].start].strip()):
            if not (i - 1 in sentence_starts and _common_word(toks[i - 1].lower)):
                return True
        if (j < len(toks) and j not in named and toks[j].text[:1].isupper()
                and not text[toks[j - 1].end:toks[j].start].strip()):
            return True
        return False

    def _fuzzy(self, toks: list[Token], words: list[str], mentions: list[Mention]) -> list[Mention]:
        if not self.fuzzy_keys:
            return []
        covered = set()
        for m in mentions:
            covered.update(range(m.start_tok, m.end_tok))
        out = []
        for i, tok in enumerate(toks):
            if len(words[i]) < FUZZY_MIN_LEN - 1 or not tok.text[:1].isupper() or i in covered:
                continue
            ei = self._fuzzy_lookup(words[i])
            if ei is not None:
                out.append(Mention(ei, i, i + 1, NORMAL, fuzzy=True))
        return out

    @lru_cache(maxsize=50_000)
    def _fuzzy_lookup(self, word: str) -> int | None:
        if is_known(word, "en") or is_known(word, "pl"):
            return None
        candidates = [word] + [word[: -len(e)] for e in CONSONANT_ENDINGS
                               if word.endswith(e) and len(word) - len(e) >= FUZZY_MIN_LEN - 1]
        for cand in candidates:
            limit = 1 if len(cand) < 11 else 2
            # optimal string alignment: a swapped pair of letters ("Zukcerberg") is one edit
            best = process.extractOne(cand, self.fuzzy_keys, scorer=OSA.distance, score_cutoff=limit)
            # keys are >= FUZZY_MIN_LEN long; a dropped letter may make the word one shorter ("Facebok")
            if best is not None and best[1] > 0 and len(cand) >= FUZZY_MIN_LEN - 1 and cand[0] == best[0][0]:
                return self.fuzzy_entity[best[0]]
        return None

    def _confirm_ambiguous(self, mentions: list[Mention], words: list[str], sentence_of: list[int]) -> list[Mention]:
        confirmed = {m.entity for m in mentions if m.kind != AMBIGUOUS}
        sentence_starts = sentence_starts_of(sentence_of)
        out = []
        sent_words: dict[int, list[str]] | None = None
        for m in mentions:
            if m.kind != AMBIGUOUS or m.entity in confirmed:
                out.append(m)
                continue
            ent = self.entities[m.entity]
            if not ent.context:
                continue
            if sent_words is None:
                sent_words = {}
                for w, s in zip(words, sentence_of):
                    sent_words.setdefault(s, []).append(w)
            s = sentence_of[m.start_tok]
            # a sentence-initial capital proves less ("Chase your dreams"): its context must be in its own sentence
            around = (s,) if m.start_tok in sentence_starts else (s - 1, s, s + 1)
            near = [w for k in around for w in sent_words.get(k, ())]
            near_set = set(near)
            if any(_context_hit(c, near, near_set) for c in ent.context):
                out.append(m)
        return sorted(out, key=lambda m: m.start_tok)


def _context_hit(word: str, near: list[str], near_set: set[str]) -> bool:
    if word.endswith("*"):
        stem = word[:-1]
        return any(w.startswith(stem) for w in near)
    if " " in word:
        return word in " ".join(near)
    return word in near_set


def _non_overlapping(cands: list[Mention]) -> list[Mention]:
    """Leftmost-longest: among overlapping hits keep the earliest, then the longest."""
    cands.sort(key=lambda m: (m.start_tok, -(m.end_tok - m.start_tok), m.kind != NORMAL))
    out: list[Mention] = []
    last_end = -1
    for m in cands:
        if m.start_tok >= last_end:
            out.append(m)
            last_end = m.end_tok
    return out


@lru_cache(maxsize=8)
def matcher_for(watchlist: Watchlist) -> EntityMatcher:
    return EntityMatcher(watchlist)


def summarize(matcher: EntityMatcher, mentions: list[Mention], toks: list[Token],
              title_end: int, lead_end: int) -> list[EntityHit]:
    """Per entity: count, in title, in lead (token offsets: title < title_end <= lead < lead_end)."""
    hits: dict[int, EntityHit] = {}
    for m in mentions:
        h = hits.setdefault(m.entity, EntityHit(matcher.entities[m.entity]))
        h.count += 1
        h.first = min(h.first, m.start_tok)
        h.mentions.append(m)
        off = toks[m.start_tok].start
        if off < title_end:
            h.in_title = True
        elif off < lead_end:
            h.in_lead = True
    return sorted(hits.values(), key=lambda h: (-h.count, h.first))


# -- other proper names -----------------------------------------------------------------
_NAME_STOP = frozenset("""
the a an in on at of for and or but to by with from as this that these those it its he she they we i you
mr mrs ms dr prof inc ltd corp co monday tuesday wednesday thursday friday saturday sunday january february
march april may june july august september october november december
w we na z ze do o od po przez dla i a ale to ten ta te jak że czy nie się jest są był była
poniedziałek wtorek środa czwartek piątek sobota niedziela styczeń luty marzec kwiecień maj czerwiec lipiec
sierpień wrzesień październik listopad grudzień reuters ap afp pap
ceo cfo coo chair chairman chairwoman president vice judge general attorney senator sen rep gov secretary minister
director spokesman spokeswoman analyst professor
prezes prezesa prezesem zastępca zastępcy przewodniczący przewodniczącego przedstawiciel przedstawiciela minister
ministra ministrem rzecznik rzecznika rzeczniczka dyrektor dyrektora sędzia senator senatora poseł posła
""".split())


def other_names(text: str, toks: list[Token], covered: set[int], sentence_starts: set[int],
                limit: int = 25) -> list[str]:
    """Multi-word capitalised names not in the watchlist ("Sheryl Sandberg", "Bank Millennium")."""
    counts: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    run: list[int] = []

    def flush() -> None:
        if len(run) < 2:        # one capitalised word is no multi-word name
            run.clear()
            return
        r = list(run)
        run.clear()
        while r and not elided(r[0]) and (toks[r[0]].lower in _NAME_STOP
                                          or (r[0] in sentence_starts and _common_word(toks[r[0]].lower))):
            r.pop(0)
        while r and toks[r[-1]].lower in _NAME_STOP:
            r.pop()
        n_words = len(r) - sum(1 for k in r[:-1] if elided(k))     # "L'Oréal" is one word
        if 2 <= n_words <= 5:
            name = split_apostrophe(toks[r[0]].text)[0]
            for a, b in zip(r, r[1:]):
                name += (gap(a, b) if elided(a) else " ") + split_apostrophe(toks[b].text)[0]
            counts[name] = counts.get(name, 0) + 1
            first_seen.setdefault(name, r[0])

    def gap(a: int, b: int) -> str:
        return text[toks[a].end:toks[b].start]

    def elided(k: int) -> bool:
        # an elided article written onto the next word: the "L" of "L'Oréal"
        return (toks[k].lower in ELISIONS and k + 1 < len(toks)
                and text[toks[k].end:toks[k + 1].start] in APOSTROPHES)

    headline_words = _headline_case_tokens(toks, sentence_starts)
    for i, tok in enumerate(toks):
        w = tok.text
        if not w[:1].isupper():      # most words: they end a run of names, if any
            if run:
                flush()
            continue
        capital = not w.isdigit() and i not in headline_words
        contiguous = bool(run) and (gap(run[-1], i).strip() in ("", "-") or elided(run[-1]))
        if capital and i not in covered and (not run or contiguous) and (not run or i not in sentence_starts):
            run.append(i)
            continue
        flush()
        if capital and i not in covered:
            run.append(i)
    flush()
    ranked = sorted(counts, key=lambda n: (-counts[n], first_seen[n]))
    return ranked[:limit]


def _headline_case_tokens(toks: list[Token], sentence_starts: set[int]) -> set[int]:
    """Tokens of sentences written in headline case ("Court Rejects Epic Games Challenge"): no names there."""
    out: set[int] = set()
    starts = sorted(sentence_starts) + [len(toks)]
    # running counts of words starting with a letter / with a capital letter (a capital is a letter)
    firsts = [t.text[:1] for t in toks]
    letters = [0, *accumulate(1 if c.isalpha() else 0 for c in firsts)]
    capitals = [0, *accumulate(1 if c.isupper() and c.isalpha() else 0 for c in firsts)]
    for a, b in zip(starts, starts[1:]):
        n_words = letters[b] - letters[a]
        if n_words >= 4 and capitals[b] - capitals[a] >= 0.6 * n_words:
            out.update(range(a, b))
    return out


@lru_cache(maxsize=100_000)
def _common_word(word: str) -> bool:
    return is_known(word, "en") or is_known(word, "pl")


def sentence_index(text: str, toks: list[Token]) -> tuple[list[tuple[int, int]], list[int]]:
    """Sentence spans of ``text`` and, per token, the index of its sentence."""
    spans = sentence_spans(text)
    if not toks:
        return spans, []
    if not spans:
        return spans, [0] * len(toks)
    starts = np.fromiter((s for s, _ in spans), dtype=np.int64, count=len(spans))
    offsets = np.fromiter((t.start for t in toks), dtype=np.int64, count=len(toks))
    # the sentence a token starts in: the last sentence starting at or before it (bisect_right - 1), at least 0
    sent_of = np.maximum(np.searchsorted(starts, offsets, side="right") - 1, 0).tolist()
    return spans, sent_of
