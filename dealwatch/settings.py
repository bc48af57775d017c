"""One typed settings object for every stage of the data flow.

Defaults live here; every field can be overridden by an environment variable named
``DEALWATCH_<FIELD>`` (upper case), e.g. ``DEALWATCH_ES_URL`` or ``DEALWATCH_DATA_DIR``.
All data written at run time (Elasticsearch node data, raw pages, scheduler store, logs)
lives under ``data_dir``; downloads that can be shared between data directories (the
Elasticsearch distribution) live under ``cache_dir``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

REPO_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = REPO_ROOT / "seeds"

# The Elasticsearch version the project runs, named once. It is the newest 9.x whose
# integ-test-zip distribution resolves from Maven Central (9.5.5 and 9.5.6 do not).
ES_VERSION = "9.5.4"


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _default_data_dir() -> Path:
    # Root's home is not traversable by the unprivileged Elasticsearch user, so a root
    # installation keeps its state in the system locations.
    if _is_root():
        return Path("/var/lib/dealwatch")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dealwatch"


def _default_cache_dir() -> Path:
    if _is_root():
        return Path("/var/cache/dealwatch")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dealwatch"


@dataclass(frozen=True)
class Settings:
    # --- where things live -------------------------------------------------------
    data_dir: Path = field(default_factory=_default_data_dir)
    cache_dir: Path = field(default_factory=_default_cache_dir)
    seeds_dir: Path = SEEDS_DIR
    sources_file: Path = SEEDS_DIR / "sources.yaml"
    demo_sources_file: Path = SEEDS_DIR / "demo" / "sources.yaml"
    watchlist_file: Path = SEEDS_DIR / "watchlist.yaml"
    topic_file: Path = SEEDS_DIR / "topic.yaml"

    # --- Elasticsearch -----------------------------------------------------------
    # Empty es_url: the project runs its own local node (``dealwatch es start``).
    es_url: str = ""
    es_api_key: str = ""
    es_username: str = ""
    es_password: str = ""
    es_ca_certs: str = ""
    es_version: str = ES_VERSION
    es_port: int = 9200
    es_transport_port: int = 9300
    es_heap: str = "1g"
    es_user: str = "dealwatch-es"   # unprivileged system user the node runs as under root
    es_java_home: str = ""          # else ES_JAVA_HOME, JAVA_HOME, /usr/lib/jvm/*
    es_start_timeout: float = 180.0
    es_dir: Path | None = None      # node data/logs/config; default <data_dir>/elasticsearch
    index_prefix: str = ""          # tests use their own prefix on the same node
    es_request_timeout: float = 30.0  # seconds per request (long-running jobs)
    es_max_retries: int = 3           # retries of a request on another node / after a timeout
    bulk_chunk_size: int = 500

    # --- crawling ----------------------------------------------------------------
    user_agent: str = "DealWatchBot/0.1 (+{contact_url})"
    contact_url: str = "https://github.com/dealwatch/dealwatch#crawler"
    max_page_bytes: int = 5 * 1024 * 1024
    download_timeout: float = 20.0
    concurrent_requests_per_domain: int = 8
    extract_workers: int = 0        # 0: one extraction process per core
    revisit_days: float = 3.0
    revisit_interval_hours: float = 12.0   # a recent article is re-fetched at most this often
    min_text_chars: int = 200       # less extracted text than this: dropped as no_text
    extraction_mode: str = "recall"     # trafilatura: balanced | precision | recall | fast (chosen in BENCHMARKS.md §5)
    retry_times: int = 2            # retries (with backoff) for 5xx and timeouts, never for 4xx
    retry_backoff: float = 1.0      # seconds before the first retry, doubled each time
    autothrottle_start_delay: float = 1.0
    autothrottle_max_delay: float = 30.0
    download_delay: float = 0.0     # minimum delay between requests to one domain (robots crawl-delay wins)
    max_section_pages: int = 30     # section/home pages followed per source and run (pagination)
    index_batch_size: int = 200     # documents per bulk write from the crawler
    index_flush_seconds: float = 2.0

    # --- crawl jobs and the scheduler (crawler/jobs.py, crawler/schedule.py) -------
    crawl_time_limit: float = 3600.0     # seconds; a source's own time_limit wins
    crawl_stop_grace: float = 20.0       # seconds between SIGTERM and SIGKILL of a crawl
    crawl_parallelism: int = 2           # `dealwatch crawl`: sources crawled at the same time
    scheduler_db_url: str = ""           # SQLAlchemy URL of the job store; default SQLite in data_dir
    scheduler_jitter: float = 60.0       # seconds of random delay added to each scheduled run
    scheduler_misfire_grace: float = 900.0  # a run missed by at most this many seconds still runs (once)
    scheduler_max_crawls: int = 4        # crawls the scheduler runs at the same time (different sources)

    # --- backfill (dealwatch import) ------------------------------------------------
    cc_news_base_url: str = "https://data.commoncrawl.org"   # CC-NEWS: <base>/crawl-data/CC-NEWS/YYYY/MM/warc.paths.gz

    # --- analysis ----------------------------------------------------------------
    relevance_threshold: float = 0.5
    near_duplicate_threshold: float = 0.5   # MinHash Jaccard of word 5-shingles for one cluster
    enrich_max_chars: int = 200_000         # longer texts are enriched on their first N characters

    # --- web UI ------------------------------------------------------------------
    ui_host: str = "127.0.0.1"
    ui_port: int = 8000
    ui_token: str = ""              # optional: require this bearer token / basic password
    ui_max_page_size: int = 100

    # --- demo sites --------------------------------------------------------------
    demo_port: int = 8080

    # ------------------------------------------------------------------------------
    @property
    def local_node(self) -> bool:
        """True when the project manages its own Elasticsearch node."""
        return not self.es_url

    @property
    def effective_es_url(self) -> str:
        return self.es_url or f"http://127.0.0.1:{self.es_port}"

    @property
    def es_home(self) -> Path:
        """The unpacked distribution (shared cache, reused by every start)."""
        return self.cache_dir / f"elasticsearch-{self.es_version}"

    @property
    def es_root(self) -> Path:
        """The node's own directory (data, logs, config, pid file)."""
        return self.es_dir or self.data_dir / "elasticsearch"

    @property
    def es_data_path(self) -> Path:
        return self.es_root / "data"

    @property
    def es_logs_path(self) -> Path:
        return self.es_root / "logs"

    @property
    def es_run_dir(self) -> Path:
        return self.es_root / "run"

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "state"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def scheduler_url(self) -> str:
        """The scheduler's job store: ``scheduler_db_url`` or SQLite under the data directory."""
        return self.scheduler_db_url or f"sqlite:///{self.data_dir / 'scheduler.sqlite'}"

    @property
    def articles_alias(self) -> str:
        return f"{self.index_prefix}articles"

    @property
    def runs_index(self) -> str:
        return f"{self.index_prefix}crawl-runs"

    @property
    def versions_index(self) -> str:
        return f"{self.index_prefix}article-versions"

    @property
    def sources_index(self) -> str:
        return f"{self.index_prefix}sources"

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


def _coerce(value: str, kind: Any) -> Any:
    if kind is Path or kind == (Path | None):
        return Path(value).expanduser()
    if kind is bool:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if kind is int:
        return int(value)
    if kind is float:
        return float(value)
    return value


def load_settings(env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, then ``DEALWATCH_*`` variables, then keyword overrides."""
    env = os.environ if env is None else env
    hints = get_type_hints(Settings)
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = env.get(f"DEALWATCH_{f.name.upper()}")
        if raw is not None and raw != "":
            try:
                values[f.name] = _coerce(raw, hints[f.name])
            except ValueError as exc:
                raise ValueError(f"DEALWATCH_{f.name.upper()}={raw!r} is not a valid {hints[f.name].__name__}") from exc
    values.update(overrides)
    return Settings(**values)


_current: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings (read once from the environment)."""
    global _current
    if _current is None:
        _current = load_settings()
    return _current


def set_settings(settings: Settings) -> None:
    """Replace the process-wide settings (CLI options, tests)."""
    global _current
    _current = settings
