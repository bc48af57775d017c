"""The sources as configured, registered in the archive's cluster: what every UI shows on /sources.

The crawler registers the sources it is given (``dealwatch crawl``, the scheduler at start and
at each reload), so a UI on another machine than the scheduler sees the same configuration
without reading its YAML. One document per source name in ``<prefix>sources``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import bulk

from dealwatch.dates import to_iso, utcnow
from dealwatch.settings import Settings
from indexer.schema import shard_settings

MAPPING = {
    "dynamic": "strict",
    "properties": {
        "name": {"type": "keyword"},
        "language": {"type": "keyword"},
        "homepage": {"type": "keyword", "index": False},
        "schedule": {"type": "keyword", "index": False},
        "kind": {"type": "keyword"},
        "registered_at": {"type": "date"},
    },
}


@dataclass(frozen=True)
class ConfiguredSource:
    """What the archive knows of a source's configuration."""

    name: str
    language: str = ""
    homepage: str = ""
    schedule: str = ""          # in words: "every 60 min", "cron */30 * * * *"
    kind: str = "site"          # site | search


def ensure_index(es: Elasticsearch, settings: Settings) -> None:
    if not es.indices.exists(index=settings.sources_index):
        es.options(ignore_status=400).indices.create(
            index=settings.sources_index, settings=shard_settings(settings),
            mappings=MAPPING)


def register(es: Elasticsearch, settings: Settings, sources: Iterable[ConfiguredSource]) -> int:
    ensure_index(es, settings)
    now = to_iso(utcnow())
    actions = [{"_index": settings.sources_index, "_id": s.name, "_source": {**asdict(s), "registered_at": now}}
               for s in sources]
    if not actions:
        return 0
    ok, _ = bulk(es, actions, refresh="wait_for")
    return ok


def registered(es: Elasticsearch, settings: Settings) -> dict[str, ConfiguredSource]:
    try:
        resp = es.search(index=settings.sources_index, size=10_000, query={"match_all": {}})
    except NotFoundError:
        return {}
    out: dict[str, ConfiguredSource] = {}
    for h in resp["hits"]["hits"]:
        src: dict[str, Any] = dict(h["_source"])
        src.pop("registered_at", None)
        out[src["name"]] = ConfiguredSource(**src)
    return out
