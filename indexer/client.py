"""The Elasticsearch client, built from settings (the local node or an existing cluster).

Only :class:`indexer.archive.Archive` (and the benchmarks, which measure Elasticsearch itself)
build one. The client gets every node URL of ``DEALWATCH_ES_URL`` (comma-separated): it sends
requests to them in turn, and a request that fails on one node (connection refused or reset, a
timeout, a 502/503/504) is retried on the next one, up to ``es_max_retries`` times; a node that
failed rests for a while before it is tried again. Sniffing (asking the cluster for its nodes'
addresses) stays off: the addresses nodes publish are often not the ones a client can reach
(containers, proxies, a load balancer in front), and the configured list already names the
nodes to use (docs/cluster.md).
"""

from __future__ import annotations

from elasticsearch import Elasticsearch
from elasticsearch.serializer import OrjsonSerializer

from dealwatch.settings import Settings


def make_client(settings: Settings, request_timeout: float | None = None,
                max_retries: int | None = None, retry_on_timeout: bool = True) -> Elasticsearch:
    """A client for the settings' node(s); ``retry_on_timeout=False`` bounds a request by its timeout
    (the web UI: a hung node must not cost several timeouts), failed connections are still retried."""
    kwargs: dict = {
        "serializer": OrjsonSerializer(),   # bulk lines and answers: orjson instead of the json module
        "request_timeout": settings.es_request_timeout if request_timeout is None else request_timeout,
        "retry_on_timeout": retry_on_timeout,
        "max_retries": settings.es_max_retries if max_retries is None else max_retries,
        "sniff_on_start": False,
        "sniff_on_node_failure": False,
    }
    if settings.es_api_key:
        kwargs["api_key"] = settings.es_api_key
    elif settings.es_username:
        kwargs["basic_auth"] = (settings.es_username, settings.es_password)
    if settings.es_ca_certs:
        kwargs["ca_certs"] = settings.es_ca_certs
    return Elasticsearch(settings.es_urls, **kwargs)
