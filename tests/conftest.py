"""Shared test fixtures: a real Elasticsearch node and per-session settings.

The suite uses the project's local node (``dealwatch es start``), starting it when it is not
running and stopping it at the end in that case; with ``DEALWATCH_ES_URL`` set it uses that
cluster instead. Every test session writes under its own index prefix and its own data
directory, so tests never touch the archive of the quickstart and can run side by side.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import uuid
from pathlib import Path

import pytest

from dealwatch.processes import read_pid_file
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


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_http_port() -> int:
    """A free port for a local node whose derived transport port (+100) is free too."""
    for _ in range(100):
        port = free_port()
        if port + 100 <= 65535:
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + 100))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free pair of ports")


@pytest.fixture(scope="session")
def second_node(es_node: Settings):
    """A second local node beside the session's one: its own HTTP port (its transport port follows it),
    its own folder and a 256 MB heap; stopped at the end of the session. Tests that make a node hang
    (SIGSTOP) use this one, never the node everyone shares."""
    if not es_node.local_node:
        pytest.skip("a second local node needs the project's own node (DEALWATCH_ES_URL is set)")
    es_dir = es_node.data_dir / f"test-node-{uuid.uuid4().hex[:8]}"
    s = es_node.replace(es_port=free_http_port(), es_dir=es_dir, es_heap="256m",
                        ui_allowed_hosts="testserver,127.0.0.1,localhost")   # as the session settings
    try:
        node.start(s)
        yield s
    finally:
        pid = read_pid_file(s.es_run_dir / "elasticsearch.pid")
        if pid:
            os.kill(pid, signal.SIGCONT)      # a test may have left it stopped
        node.stop(s)
        shutil.rmtree(es_dir, ignore_errors=True)


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
