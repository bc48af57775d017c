"""The archive: the one front door to everything DealWatch keeps.

An :class:`Archive` is built from the settings and is what the crawler, the web UI, the CLI and
the re-enrichment talk to: it ensures the indices, writes documents (near-duplicate clusters,
versions), counts, reads an article and its versions, searches, scans for exports, records and
reads crawl runs, and reads raw pages back. It knows Elasticsearch; its callers do not. Every
Elasticsearch exception raised inside becomes one of :mod:`indexer.errors` here, in one place
(the :func:`~indexer.errors.translated` decorator on each method).

The work itself lives in small modules that take the client: :mod:`indexer.store` (indices,
bulk writes, versions, the scan), :mod:`indexer.run_history`, :mod:`indexer.query` (the query
builder and the read models of the pages) and :mod:`indexer.raw_pages` (WARC files).
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Iterator

from elasticsearch import Elasticsearch

from dealwatch.settings import Settings
from indexer import deliveries, import_checkpoints, raw_pages, run_history, saved_searches, source_health, source_registry, store
from indexer import unsubscribe as unsubscribe_tokens
from indexer.client import make_client
from indexer.deliveries import AlertState, Digest
from indexer.errors import translated
from indexer.import_checkpoints import Checkpoint
from indexer.query import SearchParams, execute, readmodels
from indexer.query.results import Attention, Histogram, SearchResult
from indexer.run_history import RunRecord, SourceSummary
from indexer.saved_searches import SavedSearch
from indexer.source_health import SourceHealth
from indexer.source_registry import ConfiguredSource
from indexer.store import WriteResult

log = logging.getLogger(__name__)

MAX_ID_BYTES = 512   # Elasticsearch's limit on a document id


def possible_id(doc_id: str) -> bool:
    """Whether a document could be stored under this id: a longer one is not asked for (Elasticsearch would
    refuse the request instead of answering that there is no such document)."""
    return 0 < len(doc_id.encode("utf-8", errors="surrogatepass")) <= MAX_ID_BYTES


class Archive:
    """Articles, their versions and raw pages, and the crawl-run history of one index prefix."""

    def __init__(self, settings: Settings, *, timeout: float | None = None, retries: int | None = None,
                 retry_on_timeout: bool = True, client: Elasticsearch | None = None):
        """``timeout`` (seconds per request; default ``es_request_timeout``), ``retries`` (on another
        node or after a failed connection; default ``es_max_retries``), ``retry_on_timeout=False``:
        a request that timed out is not sent again, so ``timeout`` bounds it (the web UI)."""
        self.settings = settings
        self.timeout = settings.es_request_timeout if timeout is None else timeout
        self._es = client or make_client(settings, request_timeout=self.timeout, max_retries=retries,
                                         retry_on_timeout=retry_on_timeout)

    def __repr__(self) -> str:
        return f"Archive({self.settings.articles_alias!r})"

    def close(self) -> None:
        self._es.close()

    # --- indices --------------------------------------------------------------------------
    @translated
    def ensure(self) -> str:
        """Create what is missing: template, articles index behind its alias, versions, run history,
        the source registry, saved searches and the alerts' ledger, digests and state; give every
        index (the import checkpoints' too, when an import made it) the replicas of the settings."""
        index = store.ensure_index(self._es, self.settings)
        run_history.ensure_runs_index(self._es, self.settings)
        source_registry.ensure_index(self._es, self.settings)
        self.ensure_alerts()
        s = self.settings
        store.apply_replicas(self._es, s, [index, s.versions_index, s.runs_index, s.sources_index,
                                           s.saved_searches_index, s.alert_deliveries_index,
                                           s.alert_digests_index, s.alert_state_index,
                                           import_checkpoints.index_name(s)])
        return index

    @translated
    def ensure_alerts(self) -> None:
        """Create the small indices of saved searches and their deliveries when missing."""
        saved_searches.ensure_index(self._es, self.settings)
        deliveries.ensure_indices(self._es, self.settings)

    @translated
    def exists(self) -> bool:
        """True when the articles alias exists (something was ever written)."""
        return bool(self._es.indices.exists_alias(name=self.settings.articles_alias))

    @translated
    def drop(self, extra_patterns: Iterable[str] = ()) -> list[str]:
        """Delete every index of this prefix (tests, benchmarks, a reset)."""
        return store.drop_all(self._es, self.settings, extra_patterns)

    @translated
    def refresh(self) -> None:
        """Make every acknowledged write visible to searches now."""
        self._es.indices.refresh(index=self.settings.articles_alias)

    # --- writing --------------------------------------------------------------------------
    @translated
    def write(self, docs: Iterable[dict[str, Any]], refresh: bool | str = False,
              crawled_before: str | None = None) -> WriteResult:
        """Give each document its near-duplicate cluster, then write them (idempotent, versioned).

        ``crawled_before`` limits the cluster candidates to documents crawled before that time.
        """
        docs = list(docs)
        if not docs:
            return WriteResult()
        self._assign_clusters(docs, crawled_before)
        return store.write_documents(self._es, self.settings, docs, refresh=refresh)

    def _assign_clusters(self, docs: list[dict[str, Any]], crawled_before: str | None) -> None:
        from indexer.enrich import clusters     # MinHash (datasketch, numpy): only writers need it
        keys = clusters.band_keys(docs)
        try:
            stored = store.near_duplicate_candidates(self._es, self.settings, keys, crawled_before)
        except Exception as exc:  # noqa: BLE001 - the write goes on; each document becomes its own cluster
            log.warning("near-duplicate lookup failed (%s); documents keep their own cluster ids", exc)
            stored = []
        clusters.assign_clusters(docs, stored, self.settings.near_duplicate_threshold)

    @translated
    def add_found_via(self, sightings: list[tuple[str, str, str | None]], refresh: bool | str = False) -> WriteResult:
        """Archived articles met again another way: ``(id, found_via value, owner)`` join their
        ``found_via`` (and a site source ``owner`` takes over an article only search sources found)."""
        return store.add_found_via(self._es, self.settings, sightings, refresh=refresh)

    @translated
    def update_fields(self, updates: list[tuple[str, str, dict[str, Any]]],
                      refresh: bool | str = "wait_for") -> WriteResult:
        """Partial updates ``(index, id, fields)`` (re-enrichment: text, versions and dates stay)."""
        return store.update_fields(self._es, self.settings, updates, refresh=refresh)

    @translated
    def near_duplicates_of(self, docs: list[dict[str, Any]], crawled_before: str | None = None) -> None:
        """Set ``cluster_id`` on documents without writing them (re-enrichment)."""
        self._assign_clusters(docs, crawled_before)

    # --- reading --------------------------------------------------------------------------
    @translated
    def count(self, source: str | None = None, found_via: str | None = None) -> int:
        """Articles archived (of one source; found one way, e.g. ``search:<source>``); 0 when there is
        no archive yet."""
        if not self._es.indices.exists_alias(name=self.settings.articles_alias):
            return 0
        terms = [{"term": {k: v}} for k, v in (("source", source), ("found_via", found_via)) if v]
        query = {"bool": {"filter": terms}} if terms else None
        return store.count(self._es, self.settings, query)

    @translated
    def document(self, doc_id: str) -> dict[str, Any] | None:
        """The stored document as it is (None when there is no such article)."""
        if not possible_id(doc_id):
            return None
        return store.get_document(self._es, self.settings, doc_id)

    @translated
    def versions(self, doc_id: str) -> list[dict[str, Any]]:
        """Earlier versions of an article, oldest first (visible at once after a write)."""
        return store.get_versions(self._es, self.settings, doc_id)

    @translated
    def scan(self, fields: list[str] | bool, query: dict | None = None, oldest_first: bool = False,
             page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every stored document (``_id``, ``_index``, ``_source`` with ``fields``) in a consistent view."""
        sort = [{"crawled_at": {"order": "asc", "unmapped_type": "date"}}] if oldest_first else \
            [{"published_at": {"order": "desc", "missing": "_last"}}]
        yield from store.scan(self._es, self.settings, query or {"match_all": {}}, fields, sort, page_size)

    def raw_page(self, doc: dict[str, Any]) -> raw_pages.RawPage | None:
        """The archived HTTP response of a document, or None when it was not kept."""
        return raw_pages.raw_page_of(self.settings.data_dir, doc)

    def has_raw_page(self, doc: dict[str, Any]) -> bool:
        return raw_pages.has_raw_page(self.settings.data_dir, doc)

    # --- searching (the one query builder) --------------------------------------------------
    @translated
    def search(self, params: SearchParams, *, facets: bool = True, collapse: bool | None = None) -> SearchResult:
        """One results page: hits (near-duplicates collapsed when possible), facets, totals."""
        return execute.search(self._es, self.settings, params, facets=facets, collapse=collapse)

    @translated
    def histogram(self, params: SearchParams) -> Histogram:
        """Matches per interval beside all archived articles in the same intervals."""
        return execute.histogram(self._es, self.settings, params)

    @translated
    def attention(self, params: SearchParams) -> Attention:
        """Matches over time of the search and the queries compared with it, beside all archived articles."""
        return execute.attention(self._es, self.settings, params)

    @translated
    def count_matching(self, params: SearchParams) -> int:
        """Articles matching (no collapsing): the number of rows an export writes."""
        return execute.count(self._es, self.settings, params)

    @translated
    def scan_matching(self, params: SearchParams, fields: list[str], page_size: int = 500
                      ) -> Iterator[dict[str, Any]]:
        """Every match of a search, newest first, read through a point in time (exports, alerts)."""
        yield from execute.scan(self._es, self.settings, params, fields, page_size)

    @translated
    def total(self) -> int:
        """Every archived article (for shares in the attention chart)."""
        return store.count(self._es, self.settings)

    # --- the read models of the pages -----------------------------------------------------
    @translated
    def article(self, doc_id: str) -> dict[str, Any] | None:
        """An article with its earlier versions and the other copies of its near-duplicate cluster."""
        if not possible_id(doc_id):
            return None
        return readmodels.article(self._es, self.settings, doc_id)

    @translated
    def entities(self, prefix: str = "", limit: int = 500, relevant_only: bool = False) -> list[dict[str, Any]]:
        """Entities with article counts, most mentioned first; ``prefix`` for type-ahead."""
        return readmodels.entity_list(self._es, self.settings, prefix=prefix, limit=limit,
                                      relevant_only=relevant_only)

    @translated
    def entity(self, entity_id: str, latest: int = 10) -> dict[str, Any] | None:
        """One entity: counts, mentions over time, co-mentions, latest relevant articles."""
        return readmodels.entity_detail(self._es, self.settings, entity_id, latest=latest)

    @translated
    def sources_overview(self, runs_per_source: int = 5) -> list[dict[str, Any]]:
        """Per source: articles archived (and relevant), newest article, last runs, next run."""
        return readmodels.sources_overview(self._es, self.settings, runs_per_source)

    @translated
    def search_publishers(self, limit: int = 50) -> list[dict[str, Any]]:
        """Publisher domains search sources surfaced: articles, relevant, language, last seen, a URL."""
        if not self._es.indices.exists_alias(name=self.settings.articles_alias):
            return []
        return readmodels.search_publishers(self._es, self.settings, limit)

    # --- sources as configured --------------------------------------------------------------
    @translated
    def register_sources(self, sources: Iterable[ConfiguredSource]) -> int:
        """Record the configuration of sources (the crawler does it), for every UI to show."""
        return source_registry.register(self._es, self.settings, sources)

    @translated
    def registered_sources(self) -> dict[str, ConfiguredSource]:
        return source_registry.registered(self._es, self.settings)

    # --- crawl runs ------------------------------------------------------------------------
    @translated
    def record_run(self, record: RunRecord, refresh: bool = True) -> None:
        """Write (or overwrite) one run's record in the run history."""
        run_history.record_run(self._es, self.settings, record, refresh=refresh)

    @translated
    def last_runs(self, source: str | None = None, n: int = 10) -> list[RunRecord]:
        """The most recent runs, newest first (of one source, or of all)."""
        return run_history.last_runs(self._es, self.settings, source=source, n=n)

    @translated
    def source_summaries(self) -> dict[str, SourceSummary]:
        """Per source that ran at least once: last run, totals, runs by status, last error."""
        return run_history.source_summaries(self._es, self.settings)

    @translated
    def source_health(self) -> dict[str, SourceHealth]:
        """Per source that ran: failing, quiet or in trouble, judged from its recent runs."""
        from dealwatch.dates import utcnow
        return source_health.health_of_all(self._es, self.settings, utcnow())

    # --- saved searches -----------------------------------------------------------------------
    @translated
    def save_search(self, search: SavedSearch) -> SavedSearch:
        """Create or replace a saved search (checked by :func:`indexer.saved_searches.build`)."""
        return saved_searches.save(self._es, self.settings, search)

    @translated
    def saved_search(self, search_id: str) -> SavedSearch | None:
        return saved_searches.get(self._es, self.settings, search_id)

    @translated
    def saved_searches(self) -> list[SavedSearch]:
        """Every saved search, by name."""
        return saved_searches.all_searches(self._es, self.settings)

    def find_saved_search(self, id_or_name: str) -> SavedSearch | None:
        """By id, else by exact name (case-insensitive) when exactly one has it."""
        found = self.saved_search(id_or_name)
        if found is not None:
            return found
        named = [s for s in self.saved_searches() if s.name.casefold() == id_or_name.strip().casefold()]
        return named[0] if len(named) == 1 else None

    @translated
    def delete_saved_search(self, search_id: str) -> bool:
        """Delete a saved search with its ledger, digests and state; False when there was none."""
        found = saved_searches.delete(self._es, self.settings, search_id)
        deliveries.forget(self._es, self.settings, search_id)
        return found

    @translated
    def signing_secret(self) -> str:
        """The secret of unsubscribe links (the ``alerts_secret`` setting, else kept in the cluster)."""
        return deliveries.signing_secret(self._es, self.settings)

    def unsubscribe_link_token(self, alert_id: str, recipient: str) -> str:
        return unsubscribe_tokens.sign(self.signing_secret(), alert_id, recipient)

    def check_unsubscribe(self, token: str) -> tuple[SavedSearch | None, str]:
        """The saved search and recipient a signed token names (BadToken when it is not ours)."""
        alert_id, recipient = unsubscribe_tokens.verify(self.signing_secret(), token)
        return self.saved_search(alert_id), recipient

    def unsubscribe(self, token: str) -> tuple[SavedSearch | None, str]:
        """Remove the token's recipient from its alert (idempotent); the alert as it is now."""
        search, recipient = self.check_unsubscribe(token)
        if search is not None and recipient in search.emails:
            from dataclasses import replace

            from dealwatch.dates import utcnow
            search = self.save_search(replace(search, emails=tuple(e for e in search.emails if e != recipient),
                                              updated_at=utcnow()))
        return search, recipient

    # --- alert deliveries: state, digests, the ledger -----------------------------------------
    @translated
    def alert_state(self, alert_id: str) -> AlertState:
        return deliveries.get_state(self._es, self.settings, alert_id)

    @translated
    def alert_states(self) -> dict[str, AlertState]:
        return deliveries.all_states(self._es, self.settings)

    @translated
    def update_alert_state(self, alert_id: str, **fields: Any) -> None:
        deliveries.update_state(self._es, self.settings, alert_id, **fields)

    @translated
    def take_alert_lease(self, alert_id: str, owner: str, seconds: float) -> bool:
        """Hold an alert while delivering it; False when another runner holds it."""
        return deliveries.take_lease(self._es, self.settings, alert_id, owner, seconds)

    @translated
    def release_alert_lease(self, alert_id: str, owner: str) -> None:
        deliveries.release_lease(self._es, self.settings, alert_id, owner)

    @translated
    def pending_digest(self, alert_id: str) -> Digest | None:
        return deliveries.pending_digest(self._es, self.settings, alert_id)

    @translated
    def save_digest(self, digest: Digest) -> None:
        deliveries.save_digest(self._es, self.settings, digest)

    @translated
    def recent_digests(self, alert_id: str, n: int = 10) -> list[Digest]:
        return deliveries.recent_digests(self._es, self.settings, alert_id, n)

    @translated
    def delivered(self, alert_id: str, item_ids: list[str]) -> dict[str, str]:
        """Of ``item_ids``, those in the alert's ledger -> the digest that delivered them."""
        return deliveries.delivered(self._es, self.settings, alert_id, item_ids)

    @translated
    def record_delivered(self, digest: Digest) -> None:
        """Ledger entries for every item of an acknowledged digest, then the digest marked sent."""
        deliveries.record_delivered(self._es, self.settings, digest)

    @translated
    def ledger_size(self, alert_id: str) -> int:
        return deliveries.ledger_size(self._es, self.settings, alert_id)

    @translated
    def new_matches(self, alert_id: str, params: SearchParams, since, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Matches crawled or changed since ``since`` that are not in the alert's ledger (oldest first)."""
        return deliveries.new_matches(self._es, self.settings, alert_id, params, since, limit)

    # --- import checkpoints (dealwatch import) ---------------------------------------------
    @translated
    def load_import_checkpoints(self, ids: Iterable[str]) -> dict[str, Checkpoint]:
        """The saved checkpoints among ``ids`` (the latest state, no refresh needed)."""
        return import_checkpoints.get_many(self._es, self.settings, ids)

    @translated
    def save_import_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Record how far the import of one file got (visible at once to every machine)."""
        import_checkpoints.ensure_index(self._es, self.settings)
        import_checkpoints.save(self._es, self.settings, checkpoint)

    @translated
    def forget_import_checkpoints(self, ids: Iterable[str]) -> int:
        """Delete checkpoints, so those files are imported again from their first record."""
        return import_checkpoints.forget(self._es, self.settings, ids)
