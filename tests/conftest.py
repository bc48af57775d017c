"""Shared test fixtures: a real Elasticsearch node and per-session settings.

The suite uses the project's local node (``dealwatch es start``), starting it when it is not
running and stopping it at the end in that case; with ``DEALWATCH_ES_URL`` set it uses that
cluster instead. Every test session writes under its own index prefix and its own data
directory, so tests never touch the archive of the quickstart and can run side by side.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from dealwatch.settings import Settings, load_settings, set_settings
from indexer import node, store
from indexer.client import make_client

SHARED_DATA = Path(os.environ.get("DEALWATCH_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def es_node():
    """The running node's settings (base settings, default prefix)."""
    base = load_settings()
    started_here = False
    if base.local_node and not node.status(base).running:
        node.start(base)
        started_here = True
    yield base
    if started_here and not os.environ.get("DEALWATCH_KEEP_ES"):
        node.stop(base)


@pytest.fixture(scope="session")
def settings(es_node: Settings, tmp_path_factory) -> Settings:
    """Settings for this test session: own index prefix and data directory, same node."""
    prefix = f"dwtest-{uuid.uuid4().hex[:8]}-"
    data_dir = tmp_path_factory.mktemp("dealwatch-data")
    # Starlette's test client asks for the host "testserver"; live servers are reached as 127.0.0.1
    s = es_node.replace(index_prefix=prefix, data_dir=data_dir, es_dir=es_node.es_root,
                        ui_allowed_hosts="testserver,127.0.0.1,localhost")
    set_settings(s)
    es = make_client(s)
    yield s
    store.drop_all(es, s)


@pytest.fixture(scope="session")
def es(settings: Settings):
    return make_client(settings)


@pytest.fixture()
def fresh_index(es, settings: Settings):
    """An empty articles index (template + index + alias) for one test."""
    store.drop_all(es, settings)
    store.ensure_index(es, settings)
    yield settings
    store.drop_all(es, settings)


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test with a clear message when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not found at {path} (set DEALWATCH_SHARED_DATA)")
    return path


@pytest.fixture(scope="module")
def archive(es, settings):
    """The hand-written search archive (tests/search_archive.py), written once per test module."""
    import search_archive

    ids = search_archive.build(es, settings)
    yield ids
    store.drop_all(es, settings)


@pytest.fixture(scope="module")
def client(settings, archive):
    """The web app over that archive, through Starlette's test client."""
    from fastapi.testclient import TestClient

    from search_ui.app import create_app

    with TestClient(create_app(settings)) as c:
        yield c
