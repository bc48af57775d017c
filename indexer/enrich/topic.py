"""The topic definition (``seeds/topic.yaml``) and the relevance score it gives an article.

A concept (platform, finance, data, deal, ...) is present in a sentence when a watchlist
entity of one of its types is mentioned there or one of its terms occurs (terms are matched
on lemmas, so inflection does not matter). Windows of neighbouring sentences are scored by the
best rule whose concepts are all present; the article's score is its best window plus a bonus
for independent supporting windows and for a title that carries the topic, scaled down by
dampers for neighbouring stories, clipped to [0, 1]. The evidence is the sentences of the
windows that produced the score.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from indexer.enrich.lemmas import lemma_tokens

log = logging.getLogger(__name__)


class TopicError(ValueError):
    """The topic file is malformed."""


@dataclass(frozen=True)
class Near:
    """Two concepts within ``within`` words of each other in one sentence ("dane ... o transakcjach")."""
    first: str
    second: str
    within: int
    ordered: bool = False     # the first concept's word comes before the second's ("store ... history")


@dataclass(frozen=True)
class Concept:
    name: str
    entity_types: frozenset[str]
    entity_ids: frozenset[str]
    phrases: tuple[tuple[str, ...], ...]      # lemma tuples; last item may end with "*"
    near: tuple[Near, ...] = ()
    helper: bool = False                      # a building block of ``near``, never a rule's concept
    not_inside: frozenset[str] = frozenset()  # an entity mention that is all a term of these does not count
    anaphora: tuple[tuple[str, ...], ...] = ()  # "the company", "koncern": count when the concept's entity
                                                # types are the article's most named


@dataclass(frozen=True)
class Focus:
    """The story's actor named in the title or the opening: else the article is about something else."""
    concepts: frozenset[str]
    lead_sentences: int
    factor: float


@dataclass(frozen=True)
class Rule:
    concepts: frozenset[str]
    score: float


@dataclass(frozen=True)
class DocumentRule:
    concepts: frozenset[str]
    min_sentences: int
    score: float


@dataclass(frozen=True)
class Damper:
    concept: str
    min_sentences: int
    factor: float
    min_share: float = 0.0     # of the sentences that carry any concept


@dataclass(frozen=True)
class Topic:
    concepts: tuple[Concept, ...]
    rules: tuple[Rule, ...]
    dampers: tuple[Damper, ...] = ()
    document_rules: tuple[DocumentRule, ...] = ()
    window: int = 1
    support_min: float = 0.45
    support_bonus: float = 0.1
    max_support: int = 2
    title_bonus: float = 0.1
    title_concepts: int = 2
    title_concepts_of: frozenset[str] = frozenset({"platform", "finance", "data", "deal", "regulator", "payments"})
    focus: Focus | None = None
    path: str = ""
    # first lemma -> [(concept index, phrase)], prefix phrases separately
    index: dict = field(default_factory=dict, compare=False, hash=False)
    prefixes: tuple = field(default=(), compare=False, hash=False)
    anaphora_index: dict = field(default_factory=dict, compare=False, hash=False)


def _term_phrases(term: str, lang: str | None) -> set[tuple[str, ...]]:
    term = term.strip()
    if not term:
        return set()
    if term.startswith("="):  # exact surface form only ("=sharing": not every form of "share")
        return {tuple(w.lower() for w in term[1:].split() if w)}
    star = term.endswith("*")
    words = term[:-1] if star else term
    if star:
        toks = [w.lower() for w in words.split()]
        return {tuple(toks[:-1]) + (toks[-1] + "*",)}
    out = {tuple(w.lower() for w in words.split() if w)}  # surface form, any language
    if lang in (None, "pl", "en"):
        # lemmas as documents in Polish/English (and queries) get them; other languages'
        # terms match surface forms (use word* for their inflection), which keeps their
        # dictionaries out of memory until a document in that language comes along
        out.add(tuple(lemma_tokens(words, lang)))
        out.add(tuple(lemma_tokens(words, None)))
    return {p for p in out if p}


def _phrases(terms) -> set[tuple[str, ...]]:
    """Term phrases of a ``terms``-like value: a list, or a mapping language -> list."""
    terms = terms or {}
    if isinstance(terms, list):
        terms = {"any": terms}
    phrases: set[tuple[str, ...]] = set()
    for lang, items in terms.items():
        for term in items or []:
            phrases |= _term_phrases(str(term), None if lang == "any" else str(lang))
    return phrases


def parse_topic(data: dict, path: str = "") -> Topic:
    if not isinstance(data, dict) or not isinstance(data.get("concepts"), dict) or not data.get("rules"):
        raise TopicError(f"{path}: expected a mapping with 'concepts' and 'rules'")
    concepts = []
    raw_concepts = data["concepts"]
    for name, spec in raw_concepts.items():
        spec = spec or {}
        if not isinstance(spec, dict):
            raise TopicError(f"{path}: concept {name}: expected a mapping")
        if spec.get("based_on"):
            # the entity types, ids and terms of another concept, plus this one's own settings
            base = raw_concepts.get(spec["based_on"])
            if not isinstance(base, dict) or base.get("based_on"):
                raise TopicError(f"{path}: concept {name}: based_on {spec['based_on']!r} is not a plain concept")
            spec = {**base, **{k: v for k, v in spec.items() if k != "based_on"}}
        phrases = _phrases(spec.get("terms"))
        anaphora = _phrases(spec.get("anaphora"))
        near = []
        specs = spec.get("near") or ()
        for n in [specs] if isinstance(specs, dict) else specs:
            pair = n.get("concepts") if isinstance(n, dict) else None
            if not pair or len(pair) != 2:
                raise TopicError(f"{path}: concept {name}: 'near' needs two concepts, got {n!r}")
            near.append(Near(str(pair[0]), str(pair[1]), int(n.get("within", 3)), bool(n.get("ordered", False))))
        concepts.append(Concept(str(name), frozenset(spec.get("entity_types") or ()),
                                frozenset(spec.get("entity_ids") or ()), tuple(sorted(phrases)), tuple(near),
                                bool(spec.get("helper", False)), frozenset(spec.get("not_inside") or ()),
                                tuple(sorted(anaphora))))
    names = {c.name for c in concepts}
    helpers = {c.name for c in concepts if c.helper}
    for c in concepts:
        if c.not_inside - names:
            raise TopicError(f"{path}: concept {c.name}: not_inside names unknown concepts {sorted(c.not_inside - names)}")
        for n in c.near:
            if {n.first, n.second} - names:
                raise TopicError(f"{path}: concept {c.name}: 'near' names unknown concepts "
                                 f"{sorted({n.first, n.second} - names)}")
    rules = []
    for r in data["rules"]:
        missing = set(r.get("all") or ()) - names
        if missing or not r.get("all"):
            raise TopicError(f"{path}: rule {r} names unknown concepts {sorted(missing)}")
        if set(r["all"]) & helpers:
            raise TopicError(f"{path}: rule {r} names helper concepts {sorted(set(r['all']) & helpers)}")
        rules.append(Rule(frozenset(r["all"]), float(r["score"])))
    rules.sort(key=lambda r: -r.score)
    dampers = []
    for d in data.get("dampers") or ():
        if d.get("concept") not in names:
            raise TopicError(f"{path}: damper {d} names an unknown concept")
        dampers.append(Damper(d["concept"], int(d.get("min_sentences", 1)), float(d["factor"]),
                              float(d.get("min_share", 0.0))))
    doc_rules = []
    for r in data.get("document_rules") or ():
        missing = set(r.get("all") or ()) - names
        if missing or not r.get("all"):
            raise TopicError(f"{path}: document rule {r} names unknown concepts {sorted(missing)}")
        doc_rules.append(DocumentRule(frozenset(r["all"]), int(r.get("min_sentences", 1)), float(r["score"])))
    focus = None
    if data.get("focus"):
        f = data["focus"]
        if not isinstance(f, dict) or set(f.get("concepts") or ()) - names or not f.get("concepts"):
            raise TopicError(f"{path}: focus {f!r} needs known 'concepts'")
        focus = Focus(frozenset(f["concepts"]), int(f.get("lead_sentences", 3)), float(f.get("factor", 1.0)))
    title_of = data.get("title_concepts_of")
    if title_of is not None and set(title_of) - names:
        raise TopicError(f"{path}: title_concepts_of names unknown concepts {sorted(set(title_of) - names)}")
    index: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    prefixes: list[tuple[int, tuple[str, ...]]] = []
    for ci, c in enumerate(concepts):
        for ph in c.phrases:
            if len(ph) == 1 and ph[0].endswith("*"):
                prefixes.append((ci, ph))
            else:
                index.setdefault(ph[0], []).append((ci, ph))
    anaphora_index: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for ci, c in enumerate(concepts):
        for ph in c.anaphora:
            anaphora_index.setdefault(ph[0], []).append((ci, ph))
    return Topic(tuple(concepts), tuple(rules), tuple(dampers), tuple(doc_rules),
                 window=int(data.get("window", 1)), support_min=float(data.get("support_min", 0.45)),
                 support_bonus=float(data.get("support_bonus", 0.1)), max_support=int(data.get("max_support", 2)),
                 title_bonus=float(data.get("title_bonus", 0.1)), title_concepts=int(data.get("title_concepts", 2)),
                 **({"title_concepts_of": frozenset(title_of)} if title_of is not None else {}), focus=focus,
                 path=path, index=index, prefixes=tuple(prefixes), anaphora_index=anaphora_index)


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> Topic:
    with open(path, encoding="utf-8") as fh:
        return parse_topic(yaml.safe_load(fh), path)


def load_topic(path: str | Path) -> Topic:
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
    except FileNotFoundError as exc:
        raise TopicError(f"topic file not found: {p} (set DEALWATCH_TOPIC_FILE)") from exc
    return _load(str(p), mtime)


def _word_match(pattern: str, lemma: str, word: str) -> bool:
    if pattern.endswith("*"):
        stem = pattern[:-1]
        return lemma.startswith(stem) or word.startswith(stem)
    return pattern == lemma or pattern == word


_CANDIDATE_CACHES: dict[int, tuple[Topic, dict]] = {}
_CANDIDATE_CACHE_MAX = 100_000


def _candidates_of(topic: Topic) -> dict:
    """The per-topic memo of :func:`_token_candidates` (news vocabulary is Zipfian: most words repeat)."""
    entry = _CANDIDATE_CACHES.get(id(topic))
    if entry is None or entry[0] is not topic or len(entry[1]) > _CANDIDATE_CACHE_MAX:
        if len(_CANDIDATE_CACHES) > 8:
            _CANDIDATE_CACHES.clear()
        entry = _CANDIDATE_CACHES[id(topic)] = (topic, {})
    return entry[1]


def _token_candidates(topic: Topic, lemma: str, word: str):
    """Terms that may start at a token with this lemma and word: (phrases to check further, concepts of
    one-word prefix terms that match it), or () when none."""
    phrases = list(topic.index.get(lemma, ()))
    if word != lemma:
        phrases += topic.index.get(word, ())
    prefix_hits = [ci for ci, ph in topic.prefixes if _word_match(ph[0], lemma, word)]
    if not phrases and not prefix_hits:
        return ()
    return tuple(phrases), tuple(prefix_hits)


def concepts_per_sentence(topic: Topic, lemmas: list[str], words: list[str], sentence_of: list[int],
                          n_sentences: int, entity_sentences: list[tuple[str, str, int]],
                          entity_spans: list[tuple[int, int]] | tuple = ()) -> list[set[int]]:
    """For each sentence, the set of concept indexes present in it.

    ``entity_sentences``: (entity id, entity type, sentence index) per entity mention.
    ``entity_spans``: (first token, end token) of each entity mention. A term never matches a
    part of a mention: the entity counts through its type ("Pay" in *Google Pay* is not the
    verb, "Banków" in *Związek Banków Polskich* is not a bank); a term that spans the whole
    mention still counts (*Libra* the coin, *Google Pay* the wallet).
    """
    present: list[set[int]] = [set() for _ in range(n_sentences)]
    n = len(lemmas)
    matches: list[tuple[int, int, int]] = []   # (start, length, concept)
    span_of: dict[int, tuple[int, int]] = {}
    for a, b in entity_spans:
        for k in range(a, b):
            span_of[k] = (a, b)

    def inside_a_name(start: int, length: int) -> bool:
        return any(k in span_of and (span_of[k][0] < start or span_of[k][1] > start + length)
                   for k in range(start, start + length))

    candidates = _candidates_of(topic)
    keys = [lm if lm == w else (lm, w) for lm, w in zip(lemmas, words)]
    for i, cands in enumerate(map(candidates.get, keys)):
        if cands is None:
            cands = candidates[keys[i]] = _token_candidates(topic, lemmas[i], words[i])
        if not cands:
            continue
        phrases, prefix_hits = cands
        for ci, ph in phrases:
            if i + len(ph) > n:
                continue
            if span_of and inside_a_name(i, len(ph)):
                continue
            if all(_word_match(ph[k], lemmas[i + k], words[i + k]) for k in range(1, len(ph))):
                matches.append((i, len(ph), ci))
        if prefix_hits and not (span_of and inside_a_name(i, 1)):
            for ci in prefix_hits:
                matches.append((i, 1, ci))
    if topic.anaphora_index and entity_sentences:
        # "the company", "koncern" stand for the platform in an article whose most named entities are platforms
        by_type: dict[str, int] = {}
        for _id, ent_type, _s in entity_sentences:
            by_type[ent_type] = by_type.get(ent_type, 0) + 1
        top = max(by_type.values())
        salient = {t for t, k in by_type.items() if k == top}
        active = {ci for ci, c in enumerate(topic.concepts) if c.anaphora and c.entity_types & salient}
        if active:
            for i in range(n):
                cands = topic.anaphora_index.get(lemmas[i], ())
                if words[i] != lemmas[i]:
                    cands = list(cands) + list(topic.anaphora_index.get(words[i], ()))
                for ci, ph in cands:
                    if ci in active and i + len(ph) <= n and not (span_of and inside_a_name(i, len(ph))) and all(
                            _word_match(ph[k], lemmas[i + k], words[i + k]) for k in range(1, len(ph))):
                        matches.append((i, len(ph), ci))
    # a word belongs to its longest term: "bank account" is customer data, not also a bank
    # (helper concepts - building blocks of "near" - neither take words from the others nor lose them)
    helper = [c.helper for c in topic.concepts]
    longest = [0] * n
    for start, length, ci in matches:
        if not helper[ci]:
            for k in range(start, start + length):
                longest[k] = max(longest[k], length)
    kept: dict[int, list[tuple[int, int]]] = {}     # concept -> [(start, end)] of its kept matches
    for start, length, ci in matches:
        if helper[ci] or all(longest[k] == length for k in range(start, start + length)):
            present[sentence_of[start]].add(ci)
            kept.setdefault(ci, []).append((start, start + length))
    index_of = {c.name: ci for ci, c in enumerate(topic.concepts)}
    for (ent_id, ent_type, s), span in zip(entity_sentences, entity_spans or [None] * len(entity_sentences)):
        for ci, c in enumerate(topic.concepts):
            if ent_type in c.entity_types or ent_id in c.entity_ids:
                if c.not_inside and span is not None and any(
                        m[0] <= span[0] and span[1] <= m[1]
                        for other in c.not_inside for m in kept.get(index_of[other], ())):
                    continue   # "Apple Pay" is a wallet: the platform as a way to pay, not as the one acting
                present[s].add(ci)
                if span is not None:
                    kept.setdefault(ci, []).append(span)
    _add_near(topic, present, kept, sentence_of)
    return present


def _add_near(topic: Topic, present: list[set[int]], kept: dict[int, list[tuple[int, int]]],
              sentence_of: list[int]) -> None:
    """Concepts made of two others close together in one sentence ("payment" + "data" = customer data)."""
    names = {c.name: ci for ci, c in enumerate(topic.concepts)}
    for ci, c in enumerate(topic.concepts):
        for near in c.near:
            firsts = kept.get(names[near.first], ())
            seconds = kept.get(names[near.second], ())
            for a0, a1 in firsts:
                for b0, b1 in seconds:
                    gap = max(b0 - a1, a0 - b1)
                    if near.ordered and b0 < a1:
                        continue
                    if gap <= near.within and (a0, a1) != (b0, b1) and sentence_of[a0] == sentence_of[b0]:
                        present[sentence_of[a0]].add(ci)


@dataclass
class Relevance:
    score: float
    evidence: list[int]          # sentence indexes, the best window's first, then the supporting ones
    concepts: list[str]          # concepts of the best window


def score_relevance(topic: Topic, present: list[set[int]], title_sentences: set[int]) -> Relevance:
    names = [c.name for c in topic.concepts]
    helper_ids = {ci for ci, c in enumerate(topic.concepts) if c.helper}
    if helper_ids:
        present = [p - helper_ids for p in present]
    n = len(present)
    w = topic.window
    window_scores: list[tuple[float, int, frozenset[str]]] = []
    for s in range(n):
        cs: set[int] = set()
        for k in range(max(0, s - w), min(n, s + w + 1)):
            cs |= present[k]
        if not present[s]:
            continue
        cnames = frozenset(names[c] for c in cs)
        for rule in topic.rules:
            if rule.concepts <= cnames:
                window_scores.append((rule.score, s, cnames))
                break
    if not window_scores:
        return Relevance(0.0, [], [])
    window_scores.sort(key=lambda x: (-x[0], x[1]))
    best, best_s, best_concepts = window_scores[0]
    chosen = [best_s]
    for sc, s, _ in window_scores[1:]:
        if len(chosen) > topic.max_support:
            break
        if sc >= topic.support_min and all(abs(s - c) > 2 * w for c in chosen):
            chosen.append(s)
    score = best + topic.support_bonus * (len(chosen) - 1)
    # the topic spread over the article rather than gathered in one passage
    sentences_with = {name: sum(1 for p in present if ci in p) for ci, name in enumerate(names)}
    for rule in topic.document_rules:
        if rule.score > score and all(sentences_with[c] >= rule.min_sentences for c in rule.concepts):
            score = rule.score
            best_concepts = rule.concepts
    title_concepts = set()
    for s in title_sentences:
        if s < n:
            title_concepts |= {names[c] for c in present[s]}
    if len(title_concepts & topic.title_concepts_of) >= topic.title_concepts:
        score += topic.title_bonus
    score = min(1.0, score)
    for d in topic.dampers:
        ci = names.index(d.concept)
        hits = sum(1 for p in present if ci in p)
        carrying = sum(1 for p in present if p) or 1
        if hits >= d.min_sentences and hits / carrying >= d.min_share:
            score *= d.factor
    if topic.focus is not None:
        opening = set(title_sentences)
        rest = [k for k in range(n) if k not in title_sentences][:topic.focus.lead_sentences]
        opening.update(rest)
        if not any(names[c] in topic.focus.concepts for k in opening if k < n for c in present[k]):
            score *= topic.focus.factor
    score = max(0.0, min(1.0, score))
    evidence: list[int] = []
    for s in chosen:
        for k in range(max(0, s - w), min(n, s + w + 1)):
            if present[k] and k not in evidence:
                evidence.append(k)
    return Relevance(round(score, 4), evidence, sorted(best_concepts))
