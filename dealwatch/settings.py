"""One typed settings object for every stage of the data flow (pydantic-settings).

Every field has a default, a description and validation, and can be set with an environment
variable ``DEALWATCH_<FIELD>`` (upper case), e.g. ``DEALWATCH_ES_URL`` or ``DEALWATCH_DATA_DIR``;
an empty variable means the default. A bad value fails when the settings are loaded, with a
message naming the variable (``DEALWATCH_ES_PORT='lots' is not a valid integer``).
``docs/settings.md`` is generated from these fields (``python -m dealwatch.docs``).

All data written at run time (Elasticsearch node data, raw pages, scheduler store, logs) lives
under ``data_dir``; downloads that can be shared between data directories (the Elasticsearch
distribution) live under ``cache_dir``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit, urlunsplit

from pydantic import AfterValidator, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
SEEDS_DIR = REPO_ROOT / "seeds"

# The Elasticsearch version the project runs, named once. It is the newest 9.x whose
# integ-test-zip distribution resolves from Maven Central (9.5.5 and 9.5.6 do not).
ES_VERSION = "9.5.4"

ENV_PREFIX = "DEALWATCH_"
ExtractionMode = Literal["balanced", "precision", "recall", "fast"]
SmtpSecurity = Literal["starttls", "tls", "none"]
EXTRACTION_MODES: tuple[str, ...] = get_args(ExtractionMode)


class SettingsError(ValueError):
    """Settings that cannot work; the message names each bad variable (or keyword) and why."""


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def default_data_dir() -> Path:
    # Root's home is not traversable by the unprivileged Elasticsearch user, so a root
    # installation keeps its state in the system locations.
    if _is_root():
        return Path("/var/lib/dealwatch")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dealwatch"


def default_cache_dir() -> Path:
    if _is_root():
        return Path("/var/cache/dealwatch")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dealwatch"


def without_credentials(url: str) -> str:
    """A URL (or a comma-separated list of node URLs) as it may be shown (messages, logs, pages,
    ``repr``): user names and passwords removed."""
    if "," in url:
        return ", ".join(without_credentials(u.strip()) for u in url.split(",") if u.strip())
    try:
        parts = urlsplit(url)
        if parts.username is None and parts.password is None:
            return url
        host = parts.hostname or ""
        port = parts.port
    except ValueError:       # not readable as a URL: show none of what may hold a password
        head, sep, tail = url.rpartition("@")
        return ("***@" + tail) if sep else url
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _shown(value: Any) -> Any:
    """A setting's value as messages show it: URLs without their credentials."""
    return without_credentials(value) if isinstance(value, str) and "@" in value else value


# --- value checks (each message completes "<variable>='<value>' is not …") --------------------

def _http_url(value: str, example: str) -> str:
    parts = urlsplit(value)
    try:
        parts.port
    except ValueError:
        raise ValueError("an http(s) URL with a valid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"an http(s) URL such as {example}")
    return value


def _cluster_urls(value: str) -> str:
    """One URL, or several separated by commas (the nodes of one cluster)."""
    for url in split_urls(value):
        _http_url(url, "https://es.example.org:9200 (several: separated by commas)")
    return ",".join(split_urls(value))


def split_urls(value: str) -> list[str]:
    """The URLs of a comma-separated list, without blanks."""
    return [url.strip() for url in value.split(",") if url.strip()]


def _contact_url(value: str) -> str:
    if value.startswith("mailto:") and "@" in value:
        return value
    return _http_url(value, "https://example.org/about-our-crawler (or mailto:you@example.org)")


def _heap(value: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*[kKmMgG]", value):
        raise ValueError("a Java heap size such as 1g or 512m")
    return value


def _es_version(value: str) -> str:
    if not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", value):
        raise ValueError("an Elasticsearch version such as 9.5.4")
    return value


def _index_prefix(value: str) -> str:
    # Elasticsearch's rules for the start of an index name
    if value != value.lower() or re.search(r'[\\/*?"<>| ,#:]', value) or value[:1] in ("-", "_", "+"):
        raise ValueError("an index name prefix (lower case, no spaces or \\ / * ? \" < > | , # :, "
                         "not starting with - _ +)")
    return value


def _user_agent(value: str) -> str:
    try:
        value.format(contact_url="")
    except (KeyError, IndexError, ValueError):
        raise ValueError("a User-Agent whose only placeholder is {contact_url}") from None
    return value


def _sqlalchemy_url(value: str) -> str:
    if value:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError("a SQLAlchemy URL such as sqlite:////var/lib/dealwatch/scheduler.sqlite "
                             "or postgresql+psycopg://user@host/db") from None
    return value


def _webhook_url(value: str) -> str:
    return _http_url(value, "https://hooks.example.org/services/T000/B000/XXXX") if value else value


def _base_url(value: str) -> str:
    return _http_url(value, "https://data.commoncrawl.org").rstrip("/")


def _public_url(value: str) -> str:
    return _http_url(value, "https://dealwatch.example.org").rstrip("/")


def _addresses(value: str) -> str:
    """Comma-separated e-mail addresses (each ``addr@host`` or ``Name <addr@host>``)."""
    from email.utils import getaddresses
    for name, addr in getaddresses([value]) if value.strip() else []:
        if not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+", addr):
            raise ValueError("a comma-separated list of e-mail addresses such as "
                             "admin@example.org or \"Jan Kowalski <jan@example.org>\"")
    return value


def _existing_file(value: str) -> str:
    if value:
        value = str(Path(value).expanduser())
        if not Path(value).is_file():
            raise ValueError("an existing file")
    return value


# ``~`` expanded, a relative path taken from the folder the command starts in (child processes
# may run elsewhere)
UserPath = Annotated[Path, AfterValidator(lambda p: p.expanduser().absolute())]
Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0)]          # a timeout or period: must be positive
Delay = Annotated[float, Field(ge=0)]            # a wait: zero means none
Fraction = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=1)]
NonNegative = Annotated[int, Field(ge=0)]
Text = Annotated[str, Field(min_length=1)]


def _group(title: str):
    """A ``Field`` factory whose settings are listed under ``title`` in docs/settings.md."""
    def setting(default: Any = PydanticUndefined, description: str = "", *, shown: str | None = None,
                kind: str | None = None, **options: Any) -> Any:
        extra: dict[str, Any] = {"group": title}
        if shown is not None:
            extra["shown_default"] = shown     # the default as docs show it (when it depends on the machine)
        if kind is not None:
            extra["kind"] = kind               # the type as docs name it (when a plain type says too little)
        return Field(default, description=description, json_schema_extra=extra, **options)
    return setting


PATHS = _group("Where things live")
ELASTICSEARCH = _group("Elasticsearch")
CRAWLING = _group("Crawling")
JOBS = _group("Crawl jobs and the scheduler")
ANALYSIS = _group("Analysis")
WEB_UI = _group("Web UI")
ALERTS = _group("Alerts and their delivery")
BACKFILL = _group("Backfill (dealwatch import)")
DEMO = _group("Demo sites")

# fields whose default is computed from another field: they follow it in ``replace`` unless set
_DERIVED = frozenset({"raw_dir", "es_transport_port"})

# the environment load_settings reads (None: the process environment)
_environment: ContextVar[Mapping[str, str] | None] = ContextVar("dealwatch_environment", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env_vars = {name.lower(): value for name, value in environ.items() if value != ""}


class Settings(BaseSettings):
    """Every setting of DealWatch (see docs/settings.md); frozen and hashable (a cache key)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True,
                                      extra="forbid", validate_default=True)

    # --- where things live -----------------------------------------------------------------
    data_dir: UserPath = PATHS(
        default_factory=default_data_dir,
        shown="`/var/lib/dealwatch` as root, else `$XDG_DATA_HOME/dealwatch` (`~/.local/share/dealwatch`)",
        description="Everything written at run time: the local node's data, raw pages (WARC), crawl state, "
                    "the scheduler's job store, logs. Give each archive its own folder; it must be on a disk "
                    "with room for the archive.")
    cache_dir: UserPath = PATHS(
        default_factory=default_cache_dir,
        shown="`/var/cache/dealwatch` as root, else `$XDG_CACHE_HOME/dealwatch` (`~/.cache/dealwatch`)",
        description="Downloads shared by every data directory (the Elasticsearch distribution). Safe to delete: "
                    "the next `dealwatch es start` downloads it again.")
    raw_dir: UserPath = PATHS(
        None, shown="`<data_dir>/raw`",
        description="Raw pages as fetched, one WARC file per source and run (`<source>/<day>-<run id>.warc.gz`); "
                    "`dealwatch reextract` rebuilds documents from them. It must lie inside the data directory "
                    "(documents point at their page relative to it): mount a larger disk there when the pages "
                    "outgrow it.")
    seeds_dir: UserPath = PATHS(
        SEEDS_DIR,
        description="The bundled data folder; the offline demo sites are served from its `demo/` subfolder.")
    sources_file: UserPath = PATHS(
        SEEDS_DIR / "sources.yaml",
        description="The sources to crawl (YAML; see [adding a source](crawler.md#adding-a-source)). `dealwatch crawl "
                    "--sources-file` overrides it for one run.")
    watchlist_file: UserPath = PATHS(
        SEEDS_DIR / "watchlist.yaml",
        description="The watchlist of entities (companies, regulators, people) enrichment finds in articles; "
                    "after editing it, `dealwatch reenrich` applies it to the stored archive.")
    topic_file: UserPath = PATHS(
        SEEDS_DIR / "topic.yaml",
        description="The topic definition relevance is scored against; after editing it, `dealwatch reenrich` "
                    "applies it to the stored archive.")

    # --- Elasticsearch ---------------------------------------------------------------------
    es_url: Annotated[str, AfterValidator(_cluster_urls)] = ELASTICSEARCH(
        "", kind="URL(s)",
        description="An existing Elasticsearch cluster, e.g. https://es.example.org:9200, or several of its "
                    "nodes separated by commas (https://es1:9200,https://es2:9200): a request that fails on one "
                    "node is retried on the next (see [cluster.md](cluster.md)). Empty: the project runs its own "
                    "local node (`dealwatch es start`) and nothing else is needed.")
    es_api_key: str = ELASTICSEARCH(
        "", repr=False, description="API key for the cluster of `DEALWATCH_ES_URL` (wins over user/password).")
    es_username: str = ELASTICSEARCH(
        "", description="User name for the cluster of `DEALWATCH_ES_URL` (with `DEALWATCH_ES_PASSWORD`).")
    es_password: str = ELASTICSEARCH(
        "", repr=False, description="Password of `DEALWATCH_ES_USERNAME`.")
    es_ca_certs: Annotated[str, AfterValidator(_existing_file)] = ELASTICSEARCH(
        "", kind="path",
        description="CA certificate (PEM) of a cluster that uses its own certificate authority.")
    es_version: Annotated[str, AfterValidator(_es_version)] = ELASTICSEARCH(
        ES_VERSION,
        description="The version of the local node, downloaded once with Maven into the cache directory. "
                    "Change it only to a version whose integ-test-zip distribution exists.")
    es_port: Port = ELASTICSEARCH(
        9200, description="HTTP port of the local node (bound to 127.0.0.1). Change it when another program "
                          "uses the port.")
    es_transport_port: Port = ELASTICSEARCH(
        None, shown="`DEALWATCH_ES_PORT` + 100 (9300)",
        description="Transport port of the local node (node-to-node traffic, bound to 127.0.0.1). Two nodes on "
                    "one machine need different ports: by default it follows `DEALWATCH_ES_PORT`, so a second "
                    "node on another HTTP port does not collide on 9300.")
    es_heap: Annotated[str, AfterValidator(_heap)] = ELASTICSEARCH(
        "1g", kind="heap size",
        description="Java heap of the local node (`-Xms`/`-Xmx`), e.g. `1g` or `512m`; at most half the "
                    "machine's memory.")
    es_user: Text = ELASTICSEARCH(
        "dealwatch-es",
        description="The unprivileged system user the local node runs as when started by root (Elasticsearch "
                    "refuses to run as root); created when missing.")
    es_java_home: str = ELASTICSEARCH(
        "", kind="path",
        description="JDK >= 21 for the local node. Empty: `ES_JAVA_HOME`, `JAVA_HOME`, then `/usr/lib/jvm/*`.")
    es_start_timeout: Seconds = ELASTICSEARCH(
        180.0, description="Seconds `dealwatch es start` waits for the local node to become healthy.")
    es_dir: UserPath | None = ELASTICSEARCH(
        None, shown="`<data_dir>/elasticsearch`",
        description="The local node's own folder (data, logs, config, pid file).")
    index_prefix: Annotated[str, AfterValidator(_index_prefix)] = ELASTICSEARCH(
        "", description="Prefix of every index, alias and template name, so several archives (or test "
                        "sessions) share one cluster, e.g. `staging-`.")
    es_request_timeout: Seconds = ELASTICSEARCH(
        30.0, description="Seconds one request to Elasticsearch may take before it is retried.")
    es_max_retries: NonNegative = ELASTICSEARCH(
        3, description="Retries of a request on another node or after a timeout.")
    index_shards: Count = ELASTICSEARCH(
        1, description="Primary shards of each index DealWatch creates (articles, versions, run history, "
                        "sources); the articles' index template applies it to new article indices. One shard "
                        "holds a few million articles; see [cluster.md](cluster.md) before raising it.")
    index_replicas: NonNegative = ELASTICSEARCH(
        0, description="Replica copies of every shard: 0 on one node; 1 or more on a cluster, so losing a node "
                       "loses nothing and writes go on. Applied to new indices and, when it changes, to the "
                       "existing ones at the next start of a crawl or the scheduler.")
    bulk_chunk_size: Count = ELASTICSEARCH(
        500, description="Documents per bulk request when writing to the archive.")

    # --- crawling --------------------------------------------------------------------------
    user_agent: Annotated[str, Field(min_length=1), AfterValidator(_user_agent)] = CRAWLING(
        "DealWatchBot/0.1 (+{contact_url})",
        description="The User-Agent sent with every request and matched against robots.txt; `{contact_url}` is "
                    "replaced by `DEALWATCH_CONTACT_URL`.")
    contact_url: Annotated[str, AfterValidator(_contact_url)] = CRAWLING(
        "https://github.com/dealwatch/dealwatch#crawler", kind="URL",
        description="Where site owners learn who crawls them and how to reach you (an http(s) URL or mailto:); "
                    "set it to your own page before crawling real sites.")
    max_page_bytes: Count = CRAWLING(
        5 * 1024 * 1024, description="Larger responses are cancelled and dropped as `too_large`.")
    download_timeout: Seconds = CRAWLING(20.0, description="Seconds per request before it times out.")
    concurrent_requests_per_domain: Count = CRAWLING(
        8, description="Parallel requests to one host (also AutoThrottle's target concurrency).")
    extract_workers: NonNegative = CRAWLING(
        0, description="Extraction and enrichment processes; 0: one per core.")
    revisit_days: Delay = CRAWLING(
        3.0, description="An article published within this many days is fetched again to catch updates.")
    revisit_interval_hours: Delay = CRAWLING(
        12.0, description="A recent article is fetched again at most this often (hours).")
    min_text_chars: NonNegative = CRAWLING(
        200, description="A page with less extracted text than this is dropped as `no_text`.")
    extraction_mode: ExtractionMode = CRAWLING(
        "recall",
        description="trafilatura's trade-off: `balanced`, `precision` (less boilerplate, may lose text), "
                    "`recall` (more text, chosen in BENCHMARKS.md §5: same F1 as `balanced` at about half the "
                    "CPU) or `fast`. After a change, `dealwatch reextract` applies it to stored pages.")
    fundus_extraction: bool = CRAWLING(
        False, description="Pages of publishers Fundus has a hand-written parser for take their text, title, "
                           "authors and date from it (trafilatura for the rest and as the fallback). Off: it "
                           "gained nothing outside Fundus' own test pages, and fundus 0.5 pins lxml<6, which "
                           "trafilatura cannot use, so it is not installed with DealWatch (BENCHMARKS.md §5).")
    retry_times: NonNegative = CRAWLING(
        2, description="Retries of a request after a 5xx answer or a timeout (never after a 4xx; DNS failures "
                       "and refused connections are not retried); 0: none.")
    retry_backoff: Delay = CRAWLING(
        1.0, description="Seconds before the first retry, doubled for each further one.")
    autothrottle_start_delay: Delay = CRAWLING(
        1.0, description="AutoThrottle's first delay between requests to one host (seconds); it adapts from "
                         "there to the host's latency.")
    autothrottle_max_delay: Seconds = CRAWLING(
        30.0, description="The longest delay AutoThrottle waits between requests to one slow host (seconds).")
    download_delay: Delay = CRAWLING(
        0.0, description="Minimum seconds between requests to one host; a robots.txt Crawl-delay raises it.")
    retry_after_max: Seconds = CRAWLING(
        120.0, description="The longest wait for a domain that answers 429 or 503 with `Retry-After` (seconds); a "
                           "longer Retry-After is cut to this.")
    throttled_delay: Delay = CRAWLING(
        5.0, description="Seconds kept between requests to a domain that answered 429 twice, for the rest of the "
                         "run (Media Cloud keeps 5 s).")
    blocked_after_denials: Count = CRAWLING(
        3, description="401/403 answers in a row after which a domain counts as blocked by bot protection: no more "
                       "requests to it in the run, one `blocked` error in the report (a known challenge page "
                       "blocks at once).")
    google_news_decode_interval: Delay = CRAWLING(
        1.0, description="Seconds between the requests that resolve newer Google News links (two per link, to "
                         "Google); every answer is cached in the crawl state and never asked again.")
    max_section_pages: NonNegative = CRAWLING(
        30, description="Section, home and pagination pages followed per source and run.")
    index_batch_size: Count = CRAWLING(
        200, description="Documents the crawler collects before one bulk write.")
    index_flush_seconds: Seconds = CRAWLING(
        2.0, description="A partial batch is written after this many seconds.")

    # --- crawl jobs and the scheduler ------------------------------------------------------
    crawl_time_limit: Seconds = JOBS(
        3600.0, description="Seconds a crawl of one source may run when its sources entry has no "
                            "`time_limit`.")
    crawl_stop_grace: Seconds = JOBS(
        20.0, description="Seconds between the time limit and SIGTERM, and between SIGTERM and SIGKILL, of a "
                          "crawl that does not stop.")
    crawl_parallelism: Count = JOBS(
        2, description="`dealwatch crawl`: sources crawled at the same time (`-j` overrides it).")
    scheduler_db_url: Annotated[str, AfterValidator(_sqlalchemy_url)] = JOBS(
        "", kind="SQLAlchemy URL", shown="`sqlite:///<data_dir>/scheduler.sqlite`",
        description="The scheduler's job store, e.g. `postgresql+psycopg://dealwatch@db/dealwatch` for a "
                    "database several machines share.")
    scheduler_jitter: Delay = JOBS(
        60.0, description="Seconds of random delay added to each scheduled run, so sources do not start at "
                          "the same second.")
    scheduler_misfire_grace: Seconds = JOBS(
        900.0, description="A run missed (machine asleep, scheduler down) by at most this many seconds still "
                           "runs, once.")
    scheduler_max_crawls: Count = JOBS(
        4, description="Crawls the scheduler runs at the same time (always different sources).")

    # --- backfill (dealwatch import) -------------------------------------------------------
    cc_news_base_url: Annotated[str, AfterValidator(_base_url)] = BACKFILL(
        "https://data.commoncrawl.org",
        description="Where `dealwatch import --cc-news YYYY-MM` finds CC-NEWS: "
                    "`<base>/crawl-data/CC-NEWS/YYYY/MM/warc.paths.gz` and the files it lists (a mirror, "
                    "or a local stand-in, can take its place).")

    # --- analysis --------------------------------------------------------------------------
    relevance_threshold: Fraction = ANALYSIS(
        0.5, description="Topic relevance score (0–1) from which an article counts as relevant.")
    relevance_possible_min: float = ANALYSIS(
        0.3, description="Lower end of the 'possibly relevant' band: articles scoring from this up to "
                         "relevance_threshold are offered for review (relevance=possible); must be below the "
                         "threshold.")
    near_duplicate_threshold: Fraction = ANALYSIS(
        0.5, description="MinHash Jaccard similarity (0–1) of word 5-shingles from which two articles join one "
                         "near-duplicate cluster.")
    enrich_max_chars: Count = ANALYSIS(
        200_000, description="Longer texts are enriched on their first this-many characters.")

    # --- web UI ----------------------------------------------------------------------------
    ui_host: Text = WEB_UI(
        "127.0.0.1", description="Address `dealwatch serve` listens on; `0.0.0.0` for every interface (then "
                                 "set `DEALWATCH_UI_TOKEN`).")
    ui_port: Port = WEB_UI(8000, description="Port `dealwatch serve` listens on.")
    ui_token: str = WEB_UI(
        "", repr=False,
        description="When set, every request needs it as a bearer token, a basic-auth password or `?token=`.")
    ui_max_page_size: Count = WEB_UI(
        100, description="Most hits one page of the UI or the API returns (exports are not limited).")
    ui_es_timeout: Seconds = WEB_UI(
        5.0, description="Seconds the web UI waits for one answer of Elasticsearch before it answers 503 "
                         "(\"Elasticsearch … did not answer\"); a timeout is not retried, so a hung node costs a "
                         "page at most this long. Crawls and the CLI use `DEALWATCH_ES_REQUEST_TIMEOUT`.")

    ui_allowed_hosts: str = WEB_UI(
        "", kind="host names, comma-separated", shown="`localhost`, `127.0.0.1`, `::1` and `DEALWATCH_UI_HOST`",
        description="The names (and addresses) clients reach the UI by, e.g. `dealwatch.example.org,10.0.0.5`; "
                    "`*.example.org` allows its subdomains, `*` any name. A request for another Host is refused "
                    "(400), so a forged Host header cannot end up in the feeds' absolute links or in redirects. "
                    "Set it when the UI listens on `0.0.0.0` or behind a proxy.")
    ui_session_days: Seconds = WEB_UI(
        30.0, description="How long the cookie a browser gets after `?token=` keeps it logged in (days). The "
                          "cookie holds a signature derived from the token, never the token itself; changing the "
                          "token ends every session.")
    ui_max_filter_values: Count = WEB_UI(
        100, description="Most values one filter (`entity=`, `type=`, `source=`, `lang=`) may list in one request; "
                         "more is refused (400) before anything is searched.")
    ui_max_url_bytes: Annotated[int, Field(ge=1024)] = WEB_UI(
        16384, description="Longest request target (path and query string, in bytes) the UI answers; a longer one "
                           "is refused (414) before it is read into search parameters.")

    # --- alerts and their delivery ---------------------------------------------------------
    public_url: Annotated[str, AfterValidator(_public_url)] = ALERTS(
        "http://127.0.0.1:8000", kind="URL",
        description="The address people open the web UI at; digests link to the archived articles and to "
                    "the unsubscribe page under it.")
    smtp_host: str = ALERTS(
        "", description="SMTP server digests are sent through, e.g. `smtp.example.org`. Empty (and no "
                        "`DEALWATCH_ALERTS_MAILBOX`): e-mail channels cannot deliver and say so.")
    smtp_port: Port = ALERTS(587, description="Port of the SMTP server (587 for STARTTLS, 465 for TLS, 25 plain).")
    smtp_security: SmtpSecurity = ALERTS(
        "starttls", description="`starttls` (upgrade the connection; refuse a server that cannot), `tls` (TLS "
                                "from the first byte, port 465) or `none` (plain text: loopback and tests only).")
    smtp_user: str = ALERTS("", description="User name for SMTP authentication (empty: no login).")
    smtp_password: str = ALERTS("", repr=False, description="Password of `DEALWATCH_SMTP_USER`.")
    smtp_from: Annotated[str, Field(min_length=3), AfterValidator(_addresses)] = ALERTS(
        "DealWatch <dealwatch@localhost>",
        description="The From address of digests, e.g. `DealWatch <alerts@example.org>` (a name in any "
                    "language is encoded as RFC 2047 asks).")
    smtp_timeout: Seconds = ALERTS(
        30.0, description="Seconds the SMTP server may take to answer before the delivery counts as failed "
                          "(and is retried).")
    alerts_mailbox: UserPath | None = ALERTS(
        None, shown="none",
        description="An mbox file e-mail digests are appended to instead of being sent (the offline demo, a "
                    "machine without a mail server); read it with `mutt -f FILE` or Python's `mailbox`.")
    alerts_secret: str = ALERTS(
        "", repr=False,
        description="Secret that signs the unsubscribe links of digests (any long random text; every UI and "
                    "scheduler of one archive needs the same). Empty: one is generated once and kept in the "
                    "archive's cluster.")
    alerts_admin_email: Annotated[str, AfterValidator(_addresses)] = ALERTS(
        "", description="Where source-health alerts go (comma-separated addresses); empty with "
                        "`DEALWATCH_ALERTS_ADMIN_WEBHOOK` empty: source health is only shown on /sources.")
    alerts_admin_webhook: Annotated[str, AfterValidator(_webhook_url)] = ALERTS(
        "", kind="URL", description="A webhook (JSON) source-health alerts are posted to as well.")
    alerts_digest_max: Count = ALERTS(
        50, description="Most articles in one digest; the rest come in the next one (oldest first).")
    alerts_retry_backoff: Seconds = ALERTS(
        60.0, description="Seconds before a failed delivery is tried again, doubled after each further "
                          "failure (up to `DEALWATCH_ALERTS_RETRY_MAX`).")
    alerts_retry_max: Seconds = ALERTS(
        6 * 3600.0, description="The longest wait between two attempts of a failing delivery (seconds).")
    alerts_lease: Seconds = ALERTS(
        600.0, description="Seconds one runner holds an alert while it delivers it (others skip it); a "
                           "runner that died frees it after this long.")
    alerts_sync_interval: Seconds = ALERTS(
        60.0, description="How often the scheduler re-reads the saved searches (created or edited in the UI "
                          "or the CLI) and updates its alert jobs (seconds).")
    webhook_timeout: Seconds = ALERTS(
        10.0, description="Seconds a webhook may take to answer before the delivery counts as failed (and "
                          "is retried).")
    health_failed_runs: Count = ALERTS(
        3, description="A source whose last this-many runs all failed (or timed out) raises a source-health "
                       "alert.")
    health_stale_hours: Seconds = ALERTS(
        72.0, description="A source that used to yield new articles and yielded none for this many hours "
                          "(while it was crawled) raises a source-health alert.")
    health_jump_factor: Annotated[float, Field(ge=1)] = ALERTS(
        3.0, description="A run whose errors, blocked pages and consent walls are this many times the median "
                         "of the source's previous runs (and at least `DEALWATCH_HEALTH_JUMP_MIN`) raises a "
                         "source-health alert.")
    health_jump_min: Count = ALERTS(
        5, description="The fewest errors, blocked pages and consent walls in one run that can count as a "
                       "jump.")
    alerts_hold_after_send: Delay = ALERTS(
        0.0, description="Tests only: seconds a runner waits between an acknowledged send and marking it "
                         "delivered, so a test can kill it exactly there (0: no wait).")

    # --- demo sites ------------------------------------------------------------------------
    demo_port: Port = DEMO(
        8080, description="Port of the offline demo sites (127.0.0.2–127.0.0.5), used by `dealwatch demo`.")

    # --- checks across fields and derived defaults -----------------------------------------
    @field_validator("es_transport_port", mode="before")
    @classmethod
    def _transport_port_follows_http_port(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or value == "":
            http = int(info.data.get("es_port") or 9200)
            return http + 100 if http + 100 <= 65535 else http - 100
        return value

    @field_validator("raw_dir", mode="before")
    @classmethod
    def _raw_dir_under_data_dir(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or value == "":
            return Path(info.data.get("data_dir", Path())) / "raw"
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Settings":
        if not self.raw_dir.is_relative_to(self.data_dir):
            raise ValueError(f"{ENV_PREFIX}RAW_DIR={str(self.raw_dir)!r} is not inside {ENV_PREFIX}DATA_DIR="
                             f"{str(self.data_dir)!r} (documents point at raw pages relative to the data directory; "
                             "mount another disk there instead)")
        if self.es_transport_port == self.es_port:
            raise ValueError(f"{ENV_PREFIX}ES_TRANSPORT_PORT={self.es_transport_port} is the same port as "
                             f"{ENV_PREFIX}ES_PORT: the local node needs two ports (HTTP and transport)")
        if not 0 <= self.relevance_possible_min < self.relevance_threshold:
            raise ValueError(f"relevance_possible_min ({self.relevance_possible_min}) must be at least 0 and below "
                             f"relevance_threshold ({self.relevance_threshold}): it is where the 'possibly "
                             f"relevant' band starts ({ENV_PREFIX}RELEVANCE_POSSIBLE_MIN).")
        if self.autothrottle_max_delay < self.autothrottle_start_delay:
            raise ValueError(f"{ENV_PREFIX}AUTOTHROTTLE_MAX_DELAY={self.autothrottle_max_delay} is below "
                             f"{ENV_PREFIX}AUTOTHROTTLE_START_DELAY={self.autothrottle_start_delay}")
        return self

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        """Keyword arguments, then ``DEALWATCH_*`` variables; no .env file, no secrets folder."""
        environ = _environment.get()
        return init_settings, (env_settings if environ is None else _MappingEnvSource(settings_cls, environ))

    # --- derived values --------------------------------------------------------------------
    @property
    def local_node(self) -> bool:
        """True when the project manages its own Elasticsearch node."""
        return not self.es_url

    @property
    def effective_es_url(self) -> str:
        """The cluster's URL (its node URLs separated by commas), or the local node's."""
        return self.es_url or f"http://127.0.0.1:{self.es_port}"

    @property
    def es_urls(self) -> list[str]:
        """Every node URL the client may send a request to."""
        return split_urls(self.effective_es_url)

    @property
    def shown_es_url(self) -> str:
        """The cluster's URL as messages, logs and pages may show it: without user name and password."""
        return without_credentials(self.effective_es_url)

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """The Host names the UI answers (``ui_allowed_hosts``, else the loopback names and ``ui_host``)."""
        given = tuple(h.strip().lower().strip("[]") for h in self.ui_allowed_hosts.split(",") if h.strip())
        if given:
            return given
        own = () if self.ui_host in ("0.0.0.0", "::", "") else (self.ui_host.lower().strip("[]"),)
        return tuple(dict.fromkeys(("localhost", "127.0.0.1", "::1", *own)))

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

    @property
    def saved_searches_index(self) -> str:
        return f"{self.index_prefix}saved-searches"

    @property
    def alert_state_index(self) -> str:
        return f"{self.index_prefix}alert-state"

    @property
    def alert_digests_index(self) -> str:
        return f"{self.index_prefix}alert-digests"

    @property
    def alert_deliveries_index(self) -> str:
        return f"{self.index_prefix}alert-deliveries"

    def __repr_args__(self):
        """``repr`` (logged by the crawler's Scrapy settings, error reports) never shows a password in a URL."""
        for name, value in super().__repr_args__():
            yield name, _shown(value)

    # --- copies ----------------------------------------------------------------------------
    def replace(self, **changes: Any) -> "Settings":
        """A validated copy with ``changes``; a derived default (``raw_dir``) follows its new base."""
        current = {name: getattr(self, name) for name in type(self).model_fields
                   if name in self.model_fields_set or name not in _DERIVED}
        return _build({**current, **changes}, environ={}, keywords=set(changes))

    def as_environment(self) -> dict[str, str]:
        """The ``DEALWATCH_*`` variables that give a child process exactly these settings.

        Every field is named (an empty value for "none", which loads as the default), so a variable
        inherited from the parent's environment cannot override what these settings say.
        """
        return {env_name(name): "" if value is None else str(value)
                for name in type(self).model_fields for value in (getattr(self, name),)}


def env_name(field: str) -> str:
    """The environment variable of a settings field: ``es_port`` -> ``DEALWATCH_ES_PORT``."""
    return f"{ENV_PREFIX}{field.upper()}"


@contextmanager
def _reading(environ: Mapping[str, str] | None):
    token = _environment.set(environ)
    try:
        yield
    finally:
        _environment.reset(token)


def _reason(error: Mapping[str, Any]) -> str:
    """Pydantic's message as the end of "X=… is not …"."""
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        return "a setting"
    for start in ("Value error, ", "Input should be "):
        if message.startswith(start):
            message = message[len(start):]
            break
    else:
        return f"valid: {message}"
    return f"one of {message}" if error["type"] == "literal_error" else message


def _build(values: dict[str, Any], environ: Mapping[str, str] | None, keywords: set[str]) -> Settings:
    """Settings from keyword ``values`` over ``environ``; errors name the variable or keyword at fault."""
    try:
        with _reading(environ):
            return Settings(**values)
    except ValidationError as exc:
        # the variables as pydantic-settings matched them (case-insensitively, empty ones ignored)
        variables = {key.upper(): (key, value) for key, value in (os.environ if environ is None else environ).items()
                     if value != ""}
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            if not name:
                problems.append(_reason(error))
            elif name in keywords or env_name(name) not in variables:
                problems.append(f"{name}={_shown(error['input'])!r} is not {_reason(error)}")
            else:
                key, value = variables[env_name(name)]
                problems.append(f"{key}={_shown(value)!r} is not {_reason(error)}")
        raise SettingsError("; ".join(problems)) from None


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults, then ``DEALWATCH_*`` variables of ``env`` (default: the process
    environment), then keyword ``overrides``. Raises :class:`SettingsError` naming each bad value."""
    return _build(overrides, environ=env, keywords=set(overrides))


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
