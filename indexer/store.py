"""Elasticsearch storage: the versioned index template, the alias, idempotent bulk writes, scans.

Index layout: the template ``<prefix>articles-template`` (version = schema version) applies
the mapping from :mod:`indexer.schema` to ``<prefix>articles-v*``; the alias
``<prefix>articles`` points at the current ``<prefix>articles-v<N>``. Reading always goes
through the alias. A new field is added to the existing index in place (``ensure_index``); a
changed field means: build ``articles-v<N+1>``, reindex, move the alias.

Writes are idempotent: the document id is derived from the canonical URL. When an article's
content hash changes, the previous text goes to ``<prefix>article-versions`` (with its dates
and version number) and the searchable document becomes the new version. Counts come from the
bulk answer: a document is new or updated only once Elasticsearch acknowledged it.

Only :class:`indexer.archive.Archive` calls this module; it takes the client as its first argument.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError
from elasticsearch.helpers import streaming_bulk

from dealwatch.settings import Settings
from indexer import schema
from indexer.errors import ArchiveFailure

log = logging.getLogger(__name__)

VERSIONS_MAPPING = {
    "dynamic": "strict",
    "properties": {
        "article_id": {"type": "keyword"},
        "version": {"type": "integer"},
        "title": {"type": "text", "analyzer": "standard"},
        "text": {"type": "text", "analyzer": "standard"},
        "content_hash": {"type": "keyword"},
        "valid_from": {"type": "date"},   # when this text was first seen
        "valid_to": {"type": "date"},     # when it was replaced
        "url": {"type": "keyword"},
        "raw_warc": {"type": "keyword", "index": False},
        "raw_offset": {"type": "long", "index": False},
        "raw_length": {"type": "long", "index": False},
    },
}

MAX_MESSAGES = 20                  # error messages kept for reports (every failed id is kept)
PIT_KEEP_ALIVE = "2m"


def concrete_index(settings: Settings, version: int = schema.SCHEMA_VERSION) -> str:
    return f"{settings.articles_alias}-v{version}"


def template_name(settings: Settings) -> str:
    return f"{settings.articles_alias}-template"


def ensure_index(es: Elasticsearch, settings: Settings) -> str:
    """Create (or update) the template, the current index and the alias. Returns the index name."""
    es.indices.put_index_template(
        name=template_name(settings),
        index_patterns=[f"{settings.articles_alias}-v*"],
        version=schema.SCHEMA_VERSION,
        priority=100,
        template={"settings": schema.index_settings(settings), "mappings": schema.index_mapping()},
        meta={"description": "DealWatch articles (indexer/schema.py)"},
    )
    index = concrete_index(settings)
    if not es.indices.exists(index=index):
        es.options(ignore_status=400).indices.create(
            index=index, aliases={settings.articles_alias: {"is_write_index": True}})
        log.info("created index %s behind alias %s", index, settings.articles_alias)
    else:
        _add_new_fields(es, index)
        if not es.indices.exists_alias(name=settings.articles_alias, index=index):
            es.indices.put_alias(index=index, name=settings.articles_alias, is_write_index=True)
    if not es.indices.exists(index=settings.versions_index):
        es.options(ignore_status=400).indices.create(
            index=settings.versions_index, settings=schema.shard_settings(settings), mappings=VERSIONS_MAPPING)
    return index


def apply_replicas(es: Elasticsearch, settings: Settings, indices: Iterable[str]) -> list[str]:
    """Give existing indices the ``index_replicas`` setting (replicas can change on a live index;
    shards cannot: a new shard count takes effect with the next index, see docs/cluster.md).
    Returns the indices changed."""
    wanted = str(settings.index_replicas)
    current = es.indices.get_settings(index=",".join(indices), name="index.number_of_replicas",
                                      ignore_unavailable=True, allow_no_indices=True)
    changed = [name for name, body in current.items()
               if body["settings"]["index"]["number_of_replicas"] != wanted]
    if changed:
        es.indices.put_settings(index=",".join(changed), settings={"number_of_replicas": settings.index_replicas})
        log.info("replicas of %s set to %s", ", ".join(changed), wanted)
    return changed


def _add_new_fields(es: Elasticsearch, index: str) -> None:
    """Give an existing index the schema's fields it lacks (an additive change, in place).

    A field whose type or analysis changed cannot be changed in place: that needs a new index
    version (``SCHEMA_VERSION``) and a reindex, and is refused here with that sentence."""
    try:
        es.indices.put_mapping(index=index, properties=schema.index_mapping()["properties"])
    except BadRequestError as exc:
        raise ArchiveFailure(f"the index {index} cannot take the mapping of indexer/schema.py in place "
                             f"({exc}): a changed field needs SCHEMA_VERSION + 1 and a reindex") from exc


def drop_all(es: Elasticsearch, settings: Settings, extra_patterns: Iterable[str] = ()) -> list[str]:
    """Delete every index and the template of this prefix (tests, benchmarks). Returns the names."""
    # destructive actions need concrete names (action.destructive_requires_name): resolve first
    patterns = [f"{settings.articles_alias}-v*", settings.versions_index, settings.runs_index,
                settings.sources_index, settings.saved_searches_index, settings.alert_state_index,
                settings.alert_digests_index, settings.alert_deliveries_index, *extra_patterns]
    names = list(es.indices.get(index=",".join(patterns), expand_wildcards="all", ignore_unavailable=True,
                                allow_no_indices=True))
    if names:
        es.indices.delete(index=",".join(names))
    es.options(ignore_status=404).indices.delete_index_template(name=template_name(settings))
    return names


@dataclass
class WriteResult:
    """What a bulk write did, from Elasticsearch's answer: counts, and every document not written."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failures: dict[str, str] = field(default_factory=dict)    # document id -> why it was not written

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def failed_ids(self) -> set[str]:
        return set(self.failures)

    @property
    def errors(self) -> list[str]:
        """The first :data:`MAX_MESSAGES` failures as ``id: message`` lines, for reports."""
        return [f"{i}: {m}" for i, m in list(self.failures.items())[:MAX_MESSAGES]]

    def add(self, other: "WriteResult") -> None:
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failures.update(other.failures)

    def as_dict(self) -> dict[str, int]:
        return {"new": self.new, "updated": self.updated, "unchanged": self.unchanged, "failed": self.failed}


def bulk(es: Elasticsearch, settings: Settings, actions: list[dict[str, Any]],
         refresh: bool | str = False) -> tuple[set[str], dict[tuple[str, str], str]]:
    """Run bulk actions; returns (ids acknowledged, {(index, id): error} of those refused).

    The one collector of bulk errors: a refused item is named with its own id and reason.
    """
    ok_ids: set[str] = set()
    failed: dict[tuple[str, str], str] = {}
    if not actions:
        return ok_ids, failed
    for ok, item in streaming_bulk(es, actions, chunk_size=settings.bulk_chunk_size, max_retries=3,
                                   initial_backoff=1, raise_on_error=False, raise_on_exception=False,
                                   refresh=refresh):
        op = next(iter(item.values()))
        key = (str(op.get("_index") or ""), str(op.get("_id") or ""))
        if ok:
            ok_ids.add(key[1])
        else:
            error = op.get("error")
            if isinstance(error, dict):
                error = f"{error.get('type')}: {error.get('reason')}"
            failed[key] = str(error or op.get("exception") or f"status {op.get('status')}")
    return ok_ids, failed


_PREVIOUS_FIELDS = ["content_hash", "version", "crawled_at", "updated_at", "title", "text", "url",
                    "raw_warc", "raw_offset", "raw_length", "source", "site_name", "found_via"]
MAX_CONFLICT_ROUNDS = 5            # a document written by two crawls at once is re-read and merged this often


def _ways(doc: dict[str, Any] | None) -> list[str]:
    value = (doc or {}).get("found_via") or []
    return [value] if isinstance(value, str) else list(value)


def _only_search(ways: list[str]) -> bool:
    return all(w.startswith("search:") for w in ways)


def merge_found(doc: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """What a rewrite of a stored document keeps of it: every ``found_via`` value (the union, in
    the order met), the source of a way other than search when the new write came only through
    search sources (a publisher's own source owns its articles; a search source only adds its
    ``found_via``), and the stored site name when the new copy has none. Returns the fields that
    differ from ``old``."""
    new_ways = _ways(doc)
    if old.get("source") and _only_search(new_ways) and not _only_search(_ways(old)):
        doc["source"] = old["source"]
    ways = list(dict.fromkeys([*_ways(old), *new_ways]))
    if ways:
        doc["found_via"] = ways
    if not doc.get("site_name") and old.get("site_name"):
        doc["site_name"] = old["site_name"]
    return {k: doc[k] for k in ("found_via", "source", "site_name")
            if k in doc and doc[k] != (_ways(old) if k == "found_via" else old.get(k))}


def write_documents(es: Elasticsearch, settings: Settings, docs: Iterable[dict[str, Any]],
                    refresh: bool | str = False) -> WriteResult:
    """Bulk-write documents built by :func:`indexer.schema.article_to_document`.

    Same content hash as stored: unchanged (only a grown ``found_via`` or a new owner is written,
    as a partial update). New id: version 1. Changed text: the old text is archived in the versions
    index, the new document gets version + 1 and keeps the first ``crawled_at``. A rewrite keeps
    what :func:`merge_found` says. An article counts as new or updated only when its write was
    acknowledged; when its old version could not be archived, the article is not rewritten.

    Two crawls may write one article at the same moment (a search source and the publisher's own
    source): every write is conditional on what was read (``create`` for a new id,
    ``if_seq_no``/``if_primary_term`` otherwise), and a document another write got to first is
    read again and merged again, up to :data:`MAX_CONFLICT_ROUNDS` times.
    """
    result = WriteResult()
    batch: dict[str, dict[str, Any]] = {}
    for doc in docs:
        batch[doc["id"]] = doc  # the last copy of an id in one batch wins
    sent: dict[str, tuple[str, str | None]] = {}
    for _ in range(MAX_CONFLICT_ROUNDS):
        if not batch:
            break
        batch = _write_round(es, settings, batch, result, refresh, sent)
    for doc_id in batch:
        result.failures[doc_id] = "written by another crawl at the same time, again and again"
    if result.failures:
        log.error("%d documents were not written: %s", result.failed, "; ".join(result.errors[:3]))
    return result


def _is_conflict(message: str) -> bool:
    return "version_conflict_engine_exception" in message


def _our_lost_answer(old: dict[str, Any], doc: dict[str, Any], sent: tuple[str, str | None] | None) -> str | None:
    """``new`` or ``updated`` when the stored document is the very write an earlier round sent (the
    node applied it, but its answer was lost and the client's resend met a conflict): same text and
    the same time stamp this write carried (``crawled_at`` of a new article, ``updated_at`` of a new
    version). Else None: another writer's document."""
    if sent is None or old.get("content_hash") != doc["content_hash"]:
        return None
    kind, stamp = sent
    field = "crawled_at" if kind == "new" else "updated_at"
    return kind if stamp is not None and old.get(field) == stamp else None


def _write_round(es: Elasticsearch, settings: Settings, batch: dict[str, dict[str, Any]], result: WriteResult,
                 refresh: bool | str, sent: dict[str, tuple[str, str | None]]) -> dict[str, dict[str, Any]]:
    """One read-merge-write of ``batch``; returns the documents that met a conflicting write.
    ``sent``: what earlier rounds wrote (kind and time stamp per id), to know our own write again."""
    originals = {doc_id: dict(doc) for doc_id, doc in batch.items()}   # untouched, for another round
    previous: dict[str, dict[str, Any]] = {}
    seq: dict[str, tuple[int, int]] = {}
    resp = es.mget(index=settings.articles_alias, ids=list(batch), source_includes=_PREVIOUS_FIELDS)
    for d in resp["docs"]:
        if d.get("found"):
            previous[d["_id"]] = d["_source"]
            seq[d["_id"]] = (d["_seq_no"], d["_primary_term"])

    version_actions: list[dict[str, Any]] = []
    article_actions: list[dict[str, Any]] = []
    kind: dict[str, str] = {}
    for doc_id, doc in batch.items():
        old = previous.get(doc_id)
        if old is None:
            doc["version"] = 1
            kind[doc_id] = "new"
            article_actions.append({"_op_type": "create", "_index": settings.articles_alias, "_id": doc_id,
                                    "_source": doc})
            continue
        guard = {"if_seq_no": seq[doc_id][0], "if_primary_term": seq[doc_id][1]}
        ours = _our_lost_answer(old, doc, sent.get(doc_id))
        if ours == "new":
            result.new += 1
            continue
        if ours == "updated":
            result.updated += 1
            continue
        changed = merge_found(doc, old)
        if old.get("content_hash") == doc["content_hash"]:
            kind[doc_id] = "unchanged"
            if changed:  # the same text, found another way: only that is written
                article_actions.append({"_op_type": "update", "_index": settings.articles_alias, "_id": doc_id,
                                        "doc": changed, **guard})
            else:
                result.unchanged += 1
            continue
        old_version = int(old.get("version") or 1)
        version_actions.append({
            "_op_type": "index", "_index": settings.versions_index, "_id": f"{doc_id}-{old_version}",
            "_source": {
                "article_id": doc_id, "version": old_version, "title": old.get("title"), "text": old.get("text"),
                "content_hash": old.get("content_hash"),
                "valid_from": old.get("updated_at") or old.get("crawled_at"),
                "valid_to": doc.get("crawled_at"), "url": old.get("url"),
                "raw_warc": old.get("raw_warc"), "raw_offset": old.get("raw_offset"),
                "raw_length": old.get("raw_length"),
            },
        })
        doc["version"] = old_version + 1
        doc["updated_at"] = doc.get("crawled_at")
        if old.get("crawled_at"):
            doc["crawled_at"] = old["crawled_at"]
        kind[doc_id] = "updated"
        article_actions.append({"_op_type": "index", "_index": settings.articles_alias, "_id": doc_id,
                                "_source": doc, **guard})

    # old texts first: an article whose old version was not archived keeps its old version
    _, version_failures = bulk(es, settings, version_actions)
    not_archived = {vid.rsplit("-", 1)[0]: msg for (_, vid), msg in version_failures.items()}
    for doc_id, msg in not_archived.items():
        result.failures[doc_id] = f"its earlier version could not be kept: {msg}"
    article_actions = [a for a in article_actions if a["_id"] not in not_archived]
    for a in article_actions:
        if kind.get(a["_id"]) in ("new", "updated") and "_source" in a:
            stamp_field = "crawled_at" if kind[a["_id"]] == "new" else "updated_at"
            sent[a["_id"]] = (kind[a["_id"]], a["_source"].get(stamp_field))
    ok_ids, failures = bulk(es, settings, article_actions, refresh=refresh)
    again: dict[str, dict[str, Any]] = {}
    for (_, doc_id), msg in failures.items():
        if _is_conflict(msg):
            again[doc_id] = originals[doc_id]
        else:
            result.failures[doc_id] = msg
    for doc_id in ok_ids:
        if kind.get(doc_id) == "new":
            result.new += 1
        elif kind.get(doc_id) == "updated":
            result.updated += 1
        elif kind.get(doc_id) == "unchanged":
            result.unchanged += 1
    return again


def add_found_via(es: Elasticsearch, settings: Settings, sightings: list[tuple[str, str, str | None]],
                  refresh: bool | str = False) -> WriteResult:
    """Stored articles met again another way, without a new copy: ``(id, found_via value, owner)``.

    The value joins the document's ``found_via``; ``owner`` (a site source that found the article a
    search source archived) becomes its ``source``, as :func:`merge_found` rules for whole copies.
    Partial, conditional updates (read, merge, write if unchanged meanwhile); ``updated`` counts the
    documents that changed, an unknown id is a failure.
    """
    result = WriteResult()
    pending: dict[str, list[tuple[str, str | None]]] = {}
    for doc_id, way, owner in sightings:
        pending.setdefault(doc_id, []).append((way, owner))
    for _ in range(MAX_CONFLICT_ROUNDS):
        if not pending:
            break
        resp = es.mget(index=settings.articles_alias, ids=list(pending), source_includes=["source", "found_via"])
        actions = []
        for d in resp["docs"]:
            doc_id = d["_id"]
            if not d.get("found"):
                result.failures[doc_id] = "no such article"
                continue
            old = d["_source"]
            ways = list(dict.fromkeys([*_ways(old), *(way for way, _ in pending[doc_id])]))
            owner = next((o for _, o in reversed(pending[doc_id]) if o), None)
            merged: dict[str, Any] = {}
            if ways != _ways(old):
                merged["found_via"] = ways
            if owner and owner != old.get("source") and _only_search(_ways(old)):
                merged["source"] = owner
            if merged:
                actions.append({"_op_type": "update", "_index": settings.articles_alias, "_id": doc_id,
                                "doc": merged, "if_seq_no": d["_seq_no"], "if_primary_term": d["_primary_term"]})
        ok_ids, failures = bulk(es, settings, actions, refresh=refresh)
        result.updated += len(ok_ids)
        again = {}
        for (_, doc_id), msg in failures.items():
            if _is_conflict(msg):
                again[doc_id] = pending[doc_id]
            else:
                result.failures[doc_id] = msg
        pending = again
    return result


def update_fields(es: Elasticsearch, settings: Settings, updates: list[tuple[str, str, dict[str, Any]]],
                  refresh: bool | str = "wait_for") -> WriteResult:
    """Partial updates ``(index, id, fields)`` in place (re-enrichment); ``updated`` counts acknowledged ones."""
    actions = [{"_op_type": "update", "_index": index, "_id": doc_id, "doc": fields}
               for index, doc_id, fields in updates]
    ok_ids, failures = bulk(es, settings, actions, refresh=refresh)
    result = WriteResult(updated=len(ok_ids))
    for (_, doc_id), msg in failures.items():
        result.failures[doc_id] = msg
    return result


def get_document(es: Elasticsearch, settings: Settings, doc_id: str) -> dict[str, Any] | None:
    try:
        return es.get(index=settings.articles_alias, id=doc_id)["_source"]
    except NotFoundError as exc:
        if "index_not_found" in str(getattr(exc, "body", "") or ""):
            raise
        return None


def get_versions(es: Elasticsearch, settings: Settings, doc_id: str, current: dict[str, Any] | None = None
                 ) -> list[dict[str, Any]]:
    """Earlier versions of an article, oldest first.

    Version ids are ``<doc_id>-<n>`` for n below the current version, so they are read with a
    real-time multi-get: an edit is visible at once, without waiting for a refresh.
    """
    current = current if current is not None else get_document(es, settings, doc_id)
    latest = int((current or {}).get("version") or 1)
    if latest <= 1 or not es.indices.exists(index=settings.versions_index):
        return []
    resp = es.mget(index=settings.versions_index, ids=[f"{doc_id}-{n}" for n in range(1, latest)])
    return [d["_source"] for d in resp["docs"] if d.get("found")]


def count(es: Elasticsearch, settings: Settings, query: dict | None = None) -> int:
    return es.count(index=settings.articles_alias, query=query or {"match_all": {}})["count"]


def near_duplicate_candidates(es: Elasticsearch, settings: Settings, keys: list[str],
                              crawled_before: str | None = None, size: int = 1000) -> list[dict[str, Any]]:
    """Archived documents sharing an LSH band key with ``keys`` (optionally crawled before a time)."""
    if not keys:
        return []
    query: dict[str, Any] = {"bool": {"filter": [{"terms": {"lsh_bands": keys}}]}}
    if crawled_before:
        query["bool"]["filter"].append({"range": {"crawled_at": {"lt": crawled_before}}})
    resp = es.search(index=settings.articles_alias, query=query, size=size,
                     source_includes=["title", "text", "cluster_id", "lsh_bands"],
                     sort=[{"crawled_at": {"order": "asc", "unmapped_type": "date"}}],
                     ignore_unavailable=True, allow_no_indices=True)
    out = []
    for h in resp["hits"]["hits"]:
        src = h["_source"]
        src["id"] = h["_id"]
        out.append(src)
    return out


def scan(es: Elasticsearch, settings: Settings, query: dict, source: list[str] | bool,
         sort: list[dict[str, Any]], page_size: int = 500) -> Iterator[dict[str, Any]]:
    """Every matching hit through a point in time + ``search_after``: a consistent view while the
    index changes, constant memory, first hits before the last page is read. The one scan of the archive."""
    pit = es.open_point_in_time(index=settings.articles_alias, keep_alive=PIT_KEEP_ALIVE)["id"]
    try:
        search_after = None
        while True:
            body: dict[str, Any] = {
                "size": page_size, "query": query, "_source": source,
                "pit": {"id": pit, "keep_alive": PIT_KEEP_ALIVE},
                "sort": [*sort, {"_shard_doc": "asc"}], "track_total_hits": False,
            }
            if search_after is not None:
                body["search_after"] = search_after
            resp = es.search(**body)
            pit = resp.get("pit_id", pit)
            hits = resp["hits"]["hits"]
            yield from hits
            if len(hits) < page_size:
                return
            search_after = hits[-1]["sort"]
    finally:
        try:
            es.close_point_in_time(id=pit)
        except Exception as exc:  # noqa: BLE001 - the scan is over; a stale point in time expires by itself
            log.warning("could not close point in time: %s", exc)
