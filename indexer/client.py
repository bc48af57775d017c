"""The Elasticsearch client, built from settings (the local node or an existing cluster).

Only :class:`indexer.archive.Archive` (and the benchmarks, which measure Elasticsearch itself)
build one.
"""

from __future__ import annotations

from elasticsearch import Elasticsearch
from elasticsearch.serializer import OrjsonSerializer

from dealwatch.settings import Settings


def make_client(settings: Settings, request_timeout: float | None = None,
                max_retries: int | None = None) -> Elasticsearch:
    kwargs: dict = {
        "serializer": OrjsonSerializer(),   # bulk lines and answers: orjson instead of the json module
        "request_timeout": settings.es_request_timeout if request_timeout is None else request_timeout,
        "retry_on_timeout": True,
        "max_retries": settings.es_max_retries if max_retries is None else max_retries,
    }
    if settings.es_api_key:
        kwargs["api_key"] = settings.es_api_key
    elif settings.es_username:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password)
    if settings.es_ca_certs:
        kwargs["ca_certs"] = settings.es_ca_certs
    return Elasticsearch(settings.effective_es_url, **kwargs)
