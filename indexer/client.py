"""The Elasticsearch client, built from settings (local node or an existing cluster)."""

from __future__ import annotations

from functools import lru_cache

from elasticsearch import Elasticsearch

from dealwatch.settings import Settings


def make_client(settings: Settings, request_timeout: float = 30.0) -> Elasticsearch:
    kwargs: dict = {"request_timeout": request_timeout, "retry_on_timeout": True, "max_retries": 3}
    if settings.es_api_key:
        kwargs["api_key"] = settings.es_api_key
    elif settings.es_username:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password)
    if settings.es_ca_certs:
        kwargs["ca_certs"] = settings.es_ca_certs
    return Elasticsearch(settings.effective_es_url, **kwargs)


@lru_cache(maxsize=8)
def cached_client(settings: Settings) -> Elasticsearch:
    """One client per settings object for long-running processes (UI, crawler pipeline)."""
    return make_client(settings)
