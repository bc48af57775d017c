"""What alerts delivered, and their state: the ledger, the digests in flight, leases, the signing secret.

Three small indices with strict mappings, in the archive's cluster so every scheduler and UI sees
the same (reached through :class:`indexer.archive.Archive`):

* ``<prefix>alert-deliveries`` — **the ledger**: one document per (alert, article), id
  ``<alert id>:<article id>``, written only after every target of its digest acknowledged it. An
  article in the ledger never reaches that alert again (a new version of it neither); reindexing
  the articles behind their alias changes nothing (article ids come from canonical URLs).
* ``<prefix>alert-digests`` — each digest as it was built (its entries, frozen), ``pending`` until
  every target (each e-mail recipient, the webhook) acknowledged it, then ``sent``. A pending digest
  is sent again, unchanged and with the same Message-ID / idempotency key, before anything new.
* ``<prefix>alert-state`` — per alert: last run, last delivery, last error, next attempt, next run,
  consecutive failures, and the lease (owner, until) that keeps two runners off one alert; plus
  the generated signing secret of unsubscribe links when the ``alerts_secret`` setting is empty.

:func:`new_matches` finds an alert's new articles: matches of its search crawled or changed
since the alert's ``since`` time, oldest first, that are not in the ledger.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from dealwatch.dates import parse_datetime, to_iso, utcnow
from dealwatch.settings import Settings
from indexer import store
from indexer.query import SearchParams
from indexer.query.bands import RelevanceBands
from indexer.query.compile import build_query

SECRET_ID = "_unsubscribe-secret"
ENTRY_FIELDS = ["id", "title", "source", "url", "published_at", "crawled_at", "updated_at", "relevance_score",
                "relevant", "relevance_evidence", "cluster_id", "lang", "version"]

LEDGER_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "alert_id": {"type": "keyword"},
        "article_id": {"type": "keyword"},
        "digest_id": {"type": "keyword"},
        "delivered_at": {"type": "date"},
    },
}

DIGESTS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "digest_id": {"type": "keyword"},
        "alert_id": {"type": "keyword"},
        "kind": {"type": "keyword"},                 # articles | source-health
        "status": {"type": "keyword"},               # pending | sent
        "created_at": {"type": "date"},
        "sent_at": {"type": "date"},
        "attempts": {"type": "integer"},
        "last_error": {"type": "text", "index": False},
        "item_ids": {"type": "keyword"},             # article ids (or source-health event ids)
        "entries": {"type": "object", "enabled": False},
        "more": {"type": "boolean"},                 # matches were left for the next digest
        "targets": {"type": "keyword"},              # e-mail recipients and "webhook"
        "acknowledged": {"type": "keyword"},         # targets that acknowledged this digest
    },
}

STATE_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "alert_id": {"type": "keyword"},
        "last_run_at": {"type": "date"},
        "last_delivery_at": {"type": "date"},
        "last_delivered": {"type": "integer"},
        "delivered_total": {"type": "long"},
        "last_error": {"type": "text", "index": False},
        "last_error_at": {"type": "date"},
        "failures": {"type": "integer"},
        "next_attempt_at": {"type": "date"},
        "next_run_at": {"type": "date"},
        "lease_owner": {"type": "keyword"},
        "lease_until": {"type": "date"},
        "secret": {"type": "keyword", "index": False},
    },
}


@dataclass
class AlertState:
    alert_id: str
    last_run_at: datetime | None = None
    last_delivery_at: datetime | None = None
    last_delivered: int = 0
    delivered_total: int = 0
    last_error: str = ""
    last_error_at: datetime | None = None
    failures: int = 0
    next_attempt_at: datetime | None = None
    next_run_at: datetime | None = None
    lease_owner: str = ""
    lease_until: datetime | None = None

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> "AlertState":
        return cls(alert_id=doc["alert_id"], last_run_at=parse_datetime(doc.get("last_run_at")),
                   last_delivery_at=parse_datetime(doc.get("last_delivery_at")),
                   last_delivered=int(doc.get("last_delivered") or 0),
                   delivered_total=int(doc.get("delivered_total") or 0), last_error=doc.get("last_error") or "",
                   last_error_at=parse_datetime(doc.get("last_error_at")), failures=int(doc.get("failures") or 0),
                   next_attempt_at=parse_datetime(doc.get("next_attempt_at")),
                   next_run_at=parse_datetime(doc.get("next_run_at")), lease_owner=doc.get("lease_owner") or "",
                   lease_until=parse_datetime(doc.get("lease_until")))

    def as_dict(self) -> dict[str, Any]:
        return {k: to_iso(v) if isinstance(v, datetime) else v for k, v in self.__dict__.items()
                if k not in ("lease_owner", "lease_until")}


@dataclass
class Digest:
    """One digest of one alert: its entries (frozen when built), its targets and who acknowledged it."""

    digest_id: str
    alert_id: str
    entries: list[dict[str, Any]]
    item_ids: list[str]
    targets: list[str]
    kind: str = "articles"
    status: str = "pending"
    created_at: datetime = field(default_factory=utcnow)
    sent_at: datetime | None = None
    attempts: int = 0
    last_error: str = ""
    more: bool = False
    acknowledged: list[str] = field(default_factory=list)

    @property
    def waiting(self) -> list[str]:
        """Targets that have not acknowledged it yet."""
        return [t for t in self.targets if t not in self.acknowledged]

    def to_document(self) -> dict[str, Any]:
        doc = dict(self.__dict__)
        doc.update(created_at=to_iso(self.created_at), sent_at=to_iso(self.sent_at))
        return {k: v for k, v in doc.items() if v is not None}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> "Digest":
        return cls(digest_id=doc["digest_id"], alert_id=doc["alert_id"], entries=list(doc.get("entries") or []),
                   item_ids=list(doc.get("item_ids") or []), targets=list(doc.get("targets") or []),
                   kind=doc.get("kind") or "articles", status=doc.get("status") or "pending",
                   created_at=parse_datetime(doc.get("created_at")) or utcnow(),
                   sent_at=parse_datetime(doc.get("sent_at")), attempts=int(doc.get("attempts") or 0),
                   last_error=doc.get("last_error") or "", more=bool(doc.get("more")),
                   acknowledged=list(doc.get("acknowledged") or []))


def ensure_indices(es: Elasticsearch, settings: Settings) -> None:
    for index, mapping in ((settings.alert_deliveries_index, LEDGER_MAPPING),
                           (settings.alert_digests_index, DIGESTS_MAPPING),
                           (settings.alert_state_index, STATE_MAPPING)):
        if not es.indices.exists(index=index):
            es.options(ignore_status=400).indices.create(
                index=index, settings={"number_of_shards": 1, "number_of_replicas": settings.index_replicas},
                mappings=mapping)


# --- state and leases ----------------------------------------------------------------------

def get_state(es: Elasticsearch, settings: Settings, alert_id: str) -> AlertState:
    try:
        return AlertState.from_document(es.get(index=settings.alert_state_index, id=alert_id)["_source"])
    except NotFoundError:
        return AlertState(alert_id=alert_id)


def all_states(es: Elasticsearch, settings: Settings) -> dict[str, AlertState]:
    try:
        resp = es.search(index=settings.alert_state_index, size=10_000,
                         query={"bool": {"must_not": [{"ids": {"values": [SECRET_ID]}}]}})
    except NotFoundError:
        return {}
    return {h["_id"]: AlertState.from_document(h["_source"]) for h in resp["hits"]["hits"]}


def update_state(es: Elasticsearch, settings: Settings, alert_id: str, **fields: Any) -> None:
    """Set some fields of an alert's state (None clears a date)."""
    doc = {k: to_iso(v) if isinstance(v, datetime) else v for k, v in fields.items()}
    es.update(index=settings.alert_state_index, id=alert_id, doc=doc, upsert={"alert_id": alert_id, **doc},
              refresh="wait_for", retry_on_conflict=3)


def take_lease(es: Elasticsearch, settings: Settings, alert_id: str, owner: str, seconds: float) -> bool:
    """Hold the alert for ``seconds`` unless another runner holds it; True when it is ours now."""
    now = utcnow()
    try:
        got = es.get(index=settings.alert_state_index, id=alert_id)
    except NotFoundError:
        got = None
    until = to_iso(datetime.fromtimestamp(now.timestamp() + seconds, now.tzinfo))
    try:
        if got is None:
            es.create(index=settings.alert_state_index, id=alert_id, refresh="wait_for",
                      document={"alert_id": alert_id, "lease_owner": owner, "lease_until": until})
            return True
        src = got["_source"]
        held_until = parse_datetime(src.get("lease_until"))
        if src.get("lease_owner") and src.get("lease_owner") != owner and held_until and held_until > now:
            return False
        es.update(index=settings.alert_state_index, id=alert_id, if_seq_no=got["_seq_no"],
                  if_primary_term=got["_primary_term"], refresh="wait_for",
                  doc={"lease_owner": owner, "lease_until": until})
        return True
    except ConflictError:
        return False     # another runner took it between our read and our write


def release_lease(es: Elasticsearch, settings: Settings, alert_id: str, owner: str) -> None:
    try:
        got = es.get(index=settings.alert_state_index, id=alert_id)
    except NotFoundError:
        return
    if got["_source"].get("lease_owner") != owner:
        return
    try:
        es.update(index=settings.alert_state_index, id=alert_id, if_seq_no=got["_seq_no"],
                  if_primary_term=got["_primary_term"], refresh="wait_for",
                  doc={"lease_owner": "", "lease_until": None})
    except ConflictError:
        pass   # taken over after our lease ran out: theirs now


def signing_secret(es: Elasticsearch, settings: Settings) -> str:
    """The secret of unsubscribe links: the setting, else one generated once and kept in the cluster."""
    if settings.alerts_secret:
        return settings.alerts_secret
    ensure_indices(es, settings)
    try:
        return es.get(index=settings.alert_state_index, id=SECRET_ID)["_source"]["secret"]
    except NotFoundError:
        pass
    try:
        es.create(index=settings.alert_state_index, id=SECRET_ID, refresh="wait_for",
                  document={"alert_id": SECRET_ID, "secret": secrets.token_urlsafe(32)})
    except ConflictError:
        pass     # another process made it first: use theirs
    return es.get(index=settings.alert_state_index, id=SECRET_ID)["_source"]["secret"]


# --- digests ------------------------------------------------------------------------------

def pending_digest(es: Elasticsearch, settings: Settings, alert_id: str) -> Digest | None:
    """The alert's digest that is not yet acknowledged by every target (the oldest, if several)."""
    try:
        resp = es.search(index=settings.alert_digests_index, size=1, sort=[{"created_at": "asc"}],
                         query={"bool": {"filter": [{"term": {"alert_id": alert_id}},
                                                    {"term": {"status": "pending"}}]}})
    except NotFoundError:
        return None
    hits = resp["hits"]["hits"]
    return Digest.from_document(hits[0]["_source"]) if hits else None


def save_digest(es: Elasticsearch, settings: Settings, digest: Digest) -> None:
    es.index(index=settings.alert_digests_index, id=digest.digest_id, document=digest.to_document(),
             refresh="wait_for")


def recent_digests(es: Elasticsearch, settings: Settings, alert_id: str, n: int = 10) -> list[Digest]:
    try:
        resp = es.search(index=settings.alert_digests_index, size=n, sort=[{"created_at": "desc"}],
                         query={"term": {"alert_id": alert_id}})
    except NotFoundError:
        return []
    return [Digest.from_document(h["_source"]) for h in resp["hits"]["hits"]]


# --- the ledger ---------------------------------------------------------------------------

def ledger_id(alert_id: str, item_id: str) -> str:
    return f"{alert_id}:{item_id}"


def delivered(es: Elasticsearch, settings: Settings, alert_id: str, item_ids: list[str]) -> dict[str, str]:
    """Of ``item_ids``, those in the alert's ledger -> the digest that delivered them (real-time read)."""
    if not item_ids:
        return {}
    try:
        resp = es.mget(index=settings.alert_deliveries_index, ids=[ledger_id(alert_id, i) for i in item_ids])
    except NotFoundError:
        return {}
    return {d["_source"]["article_id"]: d["_source"].get("digest_id", "") for d in resp["docs"] if d.get("found")}


def record_delivered(es: Elasticsearch, settings: Settings, digest: Digest) -> None:
    """Put every item of an acknowledged digest into the ledger (idempotent), then mark the digest sent."""
    now = utcnow()
    actions = [{"_op_type": "index", "_index": settings.alert_deliveries_index,
                "_id": ledger_id(digest.alert_id, item_id),
                "_source": {"alert_id": digest.alert_id, "article_id": item_id, "digest_id": digest.digest_id,
                            "delivered_at": to_iso(now)}} for item_id in digest.item_ids]
    _, failed = store.bulk(es, settings, actions, refresh="wait_for")
    if failed:
        raise RuntimeError(f"{len(failed)} ledger entries were not written: {next(iter(failed.values()))}")
    digest.status, digest.sent_at = "sent", now
    save_digest(es, settings, digest)


def ledger_size(es: Elasticsearch, settings: Settings, alert_id: str) -> int:
    try:
        return es.count(index=settings.alert_deliveries_index, query={"term": {"alert_id": alert_id}})["count"]
    except NotFoundError:
        return 0


def forget(es: Elasticsearch, settings: Settings, alert_id: str) -> None:
    """Remove an alert's ledger, digests and state (the alert was deleted)."""
    from elasticsearch.helpers import scan as scroll

    for index in (settings.alert_deliveries_index, settings.alert_digests_index):
        # delete by the ids found (the bundled distribution has no _delete_by_query module)
        try:
            actions = [{"_op_type": "delete", "_index": index, "_id": h["_id"]}
                       for h in scroll(es, index=index, query={"query": {"term": {"alert_id": alert_id}}}, _source=False)]
        except NotFoundError:
            continue
        store.bulk(es, settings, actions, refresh="wait_for")
    es.options(ignore_status=404).delete(index=settings.alert_state_index, id=alert_id, refresh="wait_for")


# --- what is new for an alert ---------------------------------------------------------------

def new_matches(es: Elasticsearch, settings: Settings, alert_id: str, params: SearchParams, since: datetime,
                limit: int, page_size: int = 500) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` matches of ``params`` crawled or changed at or after ``since`` and not in the
    alert's ledger, oldest change first; and whether more wait beyond ``limit``."""
    bands = RelevanceBands.from_settings(settings)
    changed = {"bool": {"should": [{"range": {"crawled_at": {"gte": to_iso(since)}}},
                                   {"range": {"updated_at": {"gte": to_iso(since)}}}],
                        "minimum_should_match": 1}}
    query = {"bool": {"filter": [build_query(params, bands=bands), changed]}}
    sort = [{"updated_at": {"order": "asc", "missing": "_first", "unmapped_type": "date"}},
            {"crawled_at": {"order": "asc", "unmapped_type": "date"}}]
    out: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []

    def flush() -> bool:
        known = delivered(es, settings, alert_id, [h["_id"] for h in batch])
        for h in batch:
            if h["_id"] not in known:
                if len(out) == limit:
                    return True
                out.append({**h["_source"], "id": h["_id"]})
        batch.clear()
        return False

    hits: Iterator[dict[str, Any]] = store.scan(es, settings, query, ENTRY_FIELDS, sort, page_size)
    try:
        for h in hits:
            batch.append(h)
            if len(batch) >= page_size and flush():
                return out, True
        return out, flush()
    finally:
        close = getattr(hits, "close", None)
        if close:
            close()
