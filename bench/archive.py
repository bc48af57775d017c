"""The archive generator: realistic enriched documents composed from the real texts.

Search latency only means something at archive scale, so this module builds 100,000 or
1,000,000 documents that look like the crawler's output. The base texts are real: the
ground-truth bodies (or trafilatura's text) of ``news-pages/`` and the topic development
set. Each generated document takes one base text (its title, language, site and
authors), appends paragraphs of another text of the same language, and gets a random
publication date 2015–2026 (more recent years weigh more), watchlist entities (the
topic texts keep their own; others get one or two with a small probability), and a
topic relevance score. Lemmas are computed once per paragraph with simplemma (the
same analyser the enrichment uses), so generation is cheap and lazy: memory stays
constant whatever the number of documents.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import yaml

from bench import corpus
from dealwatch.dates import to_iso
from dealwatch.settings import Settings
from indexer import schema

log = logging.getLogger(__name__)

WORD = re.compile(r"\w+")
START = datetime(2015, 1, 1, tzinfo=timezone.utc)
END = datetime(2026, 11, 1, tzinfo=timezone.utc)

# Canonical names of topic-dev (seeds/watchlist.yaml is used instead once it exists).
FALLBACK_ENTITIES = [
    ("Meta Platforms", "platform"), ("Alphabet", "platform"), ("Amazon", "platform"), ("Apple", "platform"),
    ("Microsoft", "platform"), ("PayPal", "platform"), ("JPMorgan Chase", "bank"), ("Citigroup", "bank"),
    ("Wells Fargo", "bank"), ("U.S. Bancorp", "bank"), ("Bank of America", "bank"), ("Goldman Sachs", "bank"),
    ("Mastercard", "card_network"), ("Visa", "card_network"), ("American Express", "card_network"),
    ("Cambridge Analytica", "company"), ("Mark Zuckerberg", "person"), ("Donald Trump", "person"),
    ("PKO Bank Polski", "bank"), ("mBank", "bank"), ("ING", "bank"), ("Santander", "bank"), ("HSBC", "bank"),
    ("CFPB", "regulator"), ("FTC", "regulator"), ("European Commission", "regulator"), ("UODO", "regulator"),
    ("KNF", "regulator"),
]


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    type: str


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def watchlist_entities(settings: Settings) -> list[Entity]:
    """Entities of seeds/watchlist.yaml (ids as the enrichment stores them), or the topic set's names."""
    path = settings.watchlist_file
    if path.exists():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        items = data.get("entities", data) if isinstance(data, dict) else data
        out = []
        for item in items or []:
            if isinstance(item, dict) and (item.get("id") or item.get("name")):
                name = item.get("name") or item["id"]
                out.append(Entity(str(item.get("id") or slug(name)), str(name), str(item.get("type") or "other")))
        if out:
            return out
    return [Entity(slug(n), n, t) for n, t in FALLBACK_ENTITIES]


# ----------------------------------------------------------------------------- base texts
def lemmatize(text: str, lang: str) -> str:
    """Lower-cased lemmas, one per ``\\w+`` token (the *_lemmas fields' shape)."""
    import simplemma
    tokens = WORD.findall(text)
    try:
        return " ".join(simplemma.lemmatize(t, lang=lang).lower() for t in tokens)
    except (ValueError, KeyError):  # language simplemma does not know
        return " ".join(t.lower() for t in tokens)


def _prepare_one(item: dict[str, Any]) -> dict[str, Any] | None:
    text = item.get("text")
    if not text:
        import trafilatura
        text = trafilatura.extract(item.pop("html"), fast=True) or ""
    item.pop("html", None)
    paragraphs = [p.strip() for p in text.split("\n") if len(p.strip()) > 20]
    if sum(len(p) for p in paragraphs) < 300:
        return None
    lang = item["lang"] or "en"
    item["paragraphs"] = paragraphs
    item["paragraph_lemmas"] = [lemmatize(p, lang) for p in paragraphs]
    item["title_lemmas"] = lemmatize(item["title"], lang)
    return item


def base_texts(cache_dir: Path, workers: int = 2, smoke: bool = False) -> list[dict[str, Any]]:
    """The real texts the archive is composed from (cached as JSON after the first build).

    ``smoke``: 40 news pages and the topic set only (seconds instead of a minute)."""
    cache = cache_dir / ("archive-texts-smoke.json" if smoke else "archive-texts.json")
    if cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))
    items = []
    pages = corpus.spread(corpus.news_pages(), 40) if smoke else corpus.news_pages()
    for page in pages:
        rec = page.record
        truth = page.ground_truth()
        text = truth
        title = rec.get("gt_title") or ""
        if truth and not title:  # ir-research-data gold texts start with the headline
            title, _, text = truth.partition("\n")
        items.append({"text": text, "html": None if text else page.html, "title": title.strip(),
                      "lang": rec.get("language") or "", "site": rec.get("site") or "example.com",
                      "authors": rec.get("gt_authors") or [], "entities": []})
    for rec in corpus.topic_records():
        title = rec.get("title") or rec["text"].split("\n", 1)[0][:120]
        items.append({"text": rec["text"], "html": None, "title": title, "lang": rec.get("lang") or "",
                      "site": re.sub(r"^https?://([^/]+).*", r"\1", rec.get("url") or "example.com"),
                      "authors": [], "entities": list(rec.get("entities") or []), "on_topic": rec.get("label") == "on"})
    with ProcessPoolExecutor(workers) as pool:
        texts = [t for t in pool.map(_prepare_one, items, chunksize=16) if t]
    for t in texts:  # titles fall back to the first sentence
        if not t["title"]:
            t["title"] = t["paragraphs"][0][:100]
            t["title_lemmas"] = lemmatize(t["title"], t["lang"] or "en")
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    log.info("prepared %d base texts for the archive generator", len(texts))
    return texts


# ----------------------------------------------------------------------------- documents
class ArchiveGenerator:
    """Deterministic, lazy stream of enriched documents (``seed`` + index -> document)."""

    def __init__(self, texts: list[dict[str, Any]], entities: list[Entity], seed: int = 42):
        self.texts = texts
        self.entities = entities
        self.by_name = {e.name.lower(): e for e in entities}
        self.seed = seed
        self.by_lang: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            self.by_lang.setdefault(t["lang"], []).append(i)
        self.span = (END - START).total_seconds()

    def _date(self, rng: random.Random) -> datetime:
        # more recent years weigh more (archives grow): sqrt of a uniform skews towards END
        return START + timedelta(seconds=self.span * rng.random() ** 0.6)

    def document(self, n: int) -> dict[str, Any]:
        rng = random.Random(self.seed * 1_000_003 + n)
        base = self.texts[rng.randrange(len(self.texts))]
        lang = base["lang"]
        peers = self.by_lang.get(lang) or [0]
        other = self.texts[peers[rng.randrange(len(peers))]]
        k = min(len(other["paragraphs"]), rng.randint(0, 4))
        start = rng.randrange(len(other["paragraphs"]) - k + 1) if k else 0
        paragraphs = base["paragraphs"] + other["paragraphs"][start:start + k]
        lemmas = base["paragraph_lemmas"] + other["paragraph_lemmas"][start:start + k]
        text = "\n".join(paragraphs)
        published = self._date(rng)
        crawled = published + timedelta(minutes=rng.randint(5, 600))
        site = base["site"]
        url = f"https://{site}/{published:%Y/%m}/article-{n}.html"
        entities = [self.by_name[name.lower()] for name in base["entities"] if name.lower() in self.by_name]
        if not entities and rng.random() < 0.12:
            entities = rng.sample(self.entities, rng.randint(1, 2))
        on_topic = base.get("on_topic")
        score = round(rng.betavariate(5, 2) if on_topic else rng.betavariate(1, 12) * (2 if entities else 1), 3)
        score = min(score, 1.0)
        title = base["title"]
        doc = {
            "id": hashlib.sha1(url.encode()).hexdigest(), "url": url, "canonical_url": url,
            "source": site.removeprefix("www.").split(".")[0], "domain": site, "site_name": site,
            "title": title, "description": paragraphs[0][:300], "text": text, "authors": base["authors"],
            "published_at": to_iso(published), "crawled_at": to_iso(crawled),
            "updated_at": to_iso(crawled), "lang": lang or None, "word_count": len(text.split()),
            "content_hash": schema.content_hash(title, text), "version": 1,
            "title_lemmas": base["title_lemmas"], "text_lemmas": "\n".join(lemmas),
            "entity_ids": [e.id for e in entities], "entity_names": [e.name for e in entities],
            "entity_types": sorted({e.type for e in entities}),
            "entities": [{"id": e.id, "name": e.name, "type": e.type, "count": rng.randint(1, 6),
                          "in_title": rng.random() < 0.3, "in_lead": rng.random() < 0.5} for e in entities],
            "relevance_score": score, "relevant": score >= 0.5,
            "cluster_id": hashlib.sha1(url.encode()).hexdigest(), "enriched_at": to_iso(crawled),
        }
        return {k: v for k, v in doc.items() if v is not None}

    def documents(self, count: int, first: int = 0) -> Iterator[dict[str, Any]]:
        for n in range(first, first + count):
            yield self.document(n)
