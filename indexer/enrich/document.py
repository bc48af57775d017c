"""The enrichment of one document: language, lemmas, entities, topic relevance and evidence, LSH bands.

:func:`enrich_document` and :func:`analyze_text` live here; ``indexer.enrich`` re-exports them
(loaded on first use, so that importing a light submodule such as :mod:`.lemmas` - the query
builder does - does not load the entity matcher, the topic rules and datasketch).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indexer.enrich import clusters
from indexer.enrich.entities import NORM_TABLE, EntityHit, matcher_for, other_names, sentence_index, summarize
from indexer.enrich.language import detect_language, normalize_lang
from indexer.enrich.lemmas import lemma_table
from indexer.enrich.text import sentence_starts as sentence_starts_of
from indexer.enrich.text import tokens
from indexer.enrich.topic import concepts_per_sentence, load_topic, score_relevance
from indexer.enrich.watchlist import load_watchlist

LEAD_SENTENCES = 2
MAX_EVIDENCE = 5
MAX_EVIDENCE_CHARS = 500
_SEPARATOR = "\n\n"


@dataclass
class Analysis:
    lang: str | None
    detected_lang: bool
    title_lemmas: str
    text_lemmas: str
    entities: list[EntityHit]
    other_names: list[str]
    score: float
    relevant: bool
    evidence: list[str]
    concepts: list[str]
    text_words: list[str] | None = None   # lower-case words of the text (None when it was cut short)


def analyze_text(title: str, text: str, lang: str | None, settings) -> Analysis:
    """Everything enrichment finds in one article's title + text."""
    max_chars = settings.enrich_max_chars
    title = (title or "").strip()[:2000]
    raw_text = text or ""
    text = raw_text[:max_chars]
    # the near-duplicate shingles are made of the same tokens when both see the same text
    same_text_as_clusters = max_chars == clusters.MAX_CHARS or len(raw_text) <= min(max_chars, clusters.MAX_CHARS)
    lang = normalize_lang(lang)
    detected = False
    if not lang:
        lang = detect_language(f"{title}\n{text}")
        detected = lang is not None
    combined = f"{title}{_SEPARATOR}{text}" if title else text
    text_offset = len(title) + len(_SEPARATOR) if title else 0
    toks = tokens(combined)
    spans, sent_of = sentence_index(combined, toks)
    texts = [t.text for t in toks]
    lemmas = list(map(lemma_table(lang).__getitem__, texts))
    words = list(map(NORM_TABLE.__getitem__, texts))
    n_title = sum(1 for t in toks if t.start < text_offset)

    watchlist = load_watchlist(settings.watchlist_file)
    matcher = matcher_for(watchlist)
    mentions = matcher.find(toks, lang, sent_of, combined, words)
    text_spans = [s for s in spans if s[0] >= text_offset]
    lead_end = text_spans[min(LEAD_SENTENCES, len(text_spans)) - 1][1] if text_spans else text_offset
    hits = summarize(matcher, mentions, toks, text_offset if title else 0, lead_end)

    covered = {i for m in mentions for i in range(m.start_tok, m.end_tok)}
    sentence_starts = sentence_starts_of(sent_of)
    others = other_names(combined, toks, covered, sentence_starts)

    topic = load_topic(settings.topic_file)
    ent_sents = [(matcher.entities[m.entity].id, matcher.entities[m.entity].type, sent_of[m.start_tok])
                 for m in mentions]
    present = concepts_per_sentence(topic, lemmas, words, sent_of, len(spans), ent_sents,
                                    [(m.start_tok, m.end_tok) for m in mentions])
    title_sents = {sent_of[i] for i in range(n_title)}
    rel = score_relevance(topic, present, title_sents)
    evidence = []
    for s in sorted(rel.evidence[:MAX_EVIDENCE]):  # the best window's sentences are never left out
        sentence = " ".join(combined[spans[s][0]:spans[s][1]].split())
        if len(sentence) > MAX_EVIDENCE_CHARS:
            sentence = sentence[:MAX_EVIDENCE_CHARS].rsplit(" ", 1)[0] + " …"
        evidence.append(sentence)
    threshold = settings.relevance_threshold
    return Analysis(
        lang=lang, detected_lang=detected,
        title_lemmas=" ".join(lemmas[:n_title]), text_lemmas=" ".join(lemmas[n_title:]),
        entities=hits, other_names=others, score=rel.score, relevant=rel.score >= threshold,
        evidence=evidence, concepts=rel.concepts,
        text_words=list(map(str.lower, texts[n_title:])) if same_text_as_clusters else None,
    )


def enrich_document(doc: dict[str, Any], settings) -> dict[str, Any]:
    """The enrichment fields of the schema for one document (see the module docstring)."""
    from dealwatch.dates import to_iso as iso, utcnow

    a = analyze_text(doc.get("title") or "", doc.get("text") or "", doc.get("lang"), settings)
    out: dict[str, Any] = {
        "title_lemmas": a.title_lemmas,
        "text_lemmas": a.text_lemmas,
        "entity_ids": [h.entity.id for h in a.entities],
        "entity_names": [h.entity.name for h in a.entities],
        "entity_types": sorted({h.entity.type for h in a.entities}),
        "entities": [{"id": h.entity.id, "name": h.entity.name, "type": h.entity.type, "count": h.count,
                      "in_title": h.in_title, "in_lead": h.in_lead} for h in a.entities],
        "other_names": a.other_names,
        "relevance_score": a.score,
        "relevant": a.relevant,
        "relevance_evidence": a.evidence,
        "lsh_bands": clusters.lsh_bands(doc, a.text_words),
        "enriched_at": iso(utcnow()),
    }
    if not doc.get("lang") and a.lang:
        out["lang"] = a.lang
    return out
