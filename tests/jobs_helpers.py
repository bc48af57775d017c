"""Helpers for the crawl-job tests (schedule, incremental, resume): real demo sites on a free
port, a sources file with chosen sources, isolated settings (own index prefix and data
directory) and readings of the demo server's request log and of the index."""

from __future__ import annotations

import contextlib
import random
import re
from pathlib import Path
from typing import Any

import yaml

from dealwatch.settings import Settings
from demo_sites import ARTICLE_PATH, DemoSites
from indexer import store


def serve_demo(edition: int = 1, **kwargs: Any) -> DemoSites:
    """Start the demo sites on a free port (loopback addresses 127.0.0.2-5)."""
    last: OSError | None = None
    for _ in range(20):
        port = random.randint(20000, 45000)
        try:
            return DemoSites(port=port, edition=edition, **kwargs).start()
        except OSError as exc:
            last = exc
    raise RuntimeError(f"no free port for the demo sites: {last}")


def write_sources(demo: DemoSites, path: Path, names: list[str], **overrides: Any) -> Path:
    """A sources YAML holding only ``names`` of the demo, with field overrides (schedule, time_limit)."""
    chosen = [dict(s, **overrides) for s in demo.sources() if s["name"] in names]
    assert [s["name"] for s in chosen] == names, f"unknown demo sources in {names}"
    path.write_text(yaml.safe_dump({"sources": chosen}, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def isolated_settings(settings: Settings, tmp_path: Path, tag: str, **changes: Any) -> Settings:
    """Settings with their own index prefix and data directory, and the articles index created."""
    from indexer.client import make_client
    s = settings.replace(index_prefix=f"{settings.index_prefix}{tag}-", data_dir=tmp_path / f"data-{tag}", **changes)
    es = make_client(s)
    store.drop_all(es, s)
    store.ensure_index(es, s)
    return s


def article_paths(requests, host: str) -> list[str]:
    """The article pages requested from ``host`` (in request order, repeats kept)."""
    return [r.path for r in requests if r.host == host and ARTICLE_PATH.match(r.path.split("?")[0])]


def private_paths(requests) -> list[str]:
    return [f"{r.host}{r.path}" for r in requests if re.match(r"^/private(/|$)", r.path)]


def indexed_hashes(es, settings: Settings, source: str) -> dict[str, str]:
    """Document id -> content hash of every archived article of ``source``."""
    es.indices.refresh(index=settings.articles_alias)
    resp = es.search(index=settings.articles_alias, query={"term": {"source": source}},
                     source_includes=["content_hash"], size=1000)
    return {h["_id"]: h["_source"]["content_hash"] for h in resp["hits"]["hits"]}


@contextlib.contextmanager
def slow_demo_sites(article_delay: float):
    """The demo sites with every article page answered after ``article_delay`` seconds."""
    demo = serve_demo(article_delay=article_delay)
    try:
        yield demo
    finally:
        demo.stop()
