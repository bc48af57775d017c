"""The web UI over an archive that hangs or is gone: bounded requests and one clear 503.

A real node stopped with SIGSTOP (the test's own second node, never the shared one) accepts
connections and never answers: the state of an overloaded or frozen Elasticsearch.

Specification:
* every page, API call and export answers within about ``ui_es_timeout`` (not the crawler's
  30 s × 4 retries) with 503 and the message a stopped node gets: "Elasticsearch at … is not
  available (…): check it with `dealwatch es status` …", no stack trace;
* once the node runs again, the same app answers 200 without a restart.
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
from fastapi.testclient import TestClient

from conftest import free_port
from dealwatch.processes import read_pid_file
from indexer.archive import Archive
from search_ui.app import create_app

UI_TIMEOUT = 2.0
PATHS = ["/", "/api/search?q=bank", "/sources", "/entities", "/export.csv?q=bank"]


@pytest.fixture()
def hung_node_app(second_node):
    """The app over an archive on the second node, and a way to freeze and thaw that node."""
    s = second_node.replace(index_prefix=f"ui-hung-{os.getpid()}-", ui_es_timeout=UI_TIMEOUT)
    archive = Archive(s)
    archive.ensure()
    pid = read_pid_file(s.es_run_dir / "elasticsearch.pid")
    assert pid, "the second node runs"
    with TestClient(create_app(s)) as client:
        try:
            yield s, client, pid
        finally:
            os.kill(pid, signal.SIGCONT)
            archive.drop()


def _shape(message: str) -> str:
    """The message without the URL and the reason in parentheses (what differs between two outages)."""
    return re.sub(r"\([^)]*\)", "(…)", re.sub(r"http://127\.0\.0\.1:\d+", "URL", message))


def test_a_hung_node_gets_a_bounded_503_with_the_message_of_a_stopped_one(hung_node_app):
    s, client, pid = hung_node_app
    assert client.get("/").status_code == 200

    down = s.replace(es_port=free_port())                # nothing listens there: a stopped node
    with TestClient(create_app(down)) as down_client:
        stopped = down_client.get("/api/search?q=bank").json()["error"]["message"]
    assert "is not available (no connection)" in stopped

    os.kill(pid, signal.SIGSTOP)
    try:
        for path in PATHS:
            t0 = time.monotonic()
            response = client.get(path)
            took = time.monotonic() - t0
            assert response.status_code == 503, (path, response.status_code, response.text[:300])
            assert took < UI_TIMEOUT * 3, f"{path} took {took:.1f} s with a {UI_TIMEOUT} s timeout"
            text = response.text
            if path.startswith("/api/"):
                message = response.json()["error"]["message"]
                assert f"is not available (no answer within {UI_TIMEOUT:g} s)" in message
                assert _shape(message) == _shape(stopped)
            else:
                assert "dealwatch es status" in text and "Traceback" not in text
    finally:
        os.kill(pid, signal.SIGCONT)

    assert client.get("/api/search?q=bank").status_code == 200, "the node is back, so is the UI"
