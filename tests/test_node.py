"""The local Elasticsearch node: start, status, stop, and a restart that reuses the cached download.

Specification of nodes side by side on one machine:
* a node started on another HTTP port gets its own transport port (the HTTP port + 100), so it
  starts beside the session's node instead of colliding on 9300;
* a port that is taken is named, with its setting, before Java starts;
* a start that fails inside Elasticsearch says why (the fatal exception and its cause), not the
  last frames of a stack trace.
"""

import os
import shutil
import socket
import uuid

import pytest

from conftest import free_http_port
from dealwatch.settings import load_settings
from indexer import node


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def throwaway_node(es_node):
    """Settings for a throw-away node: own HTTP port and directory, same cached distribution."""
    base = es_node
    es_dir = base.data_dir / f"test-node-{uuid.uuid4().hex[:8]}"
    s = base.replace(es_port=free_http_port(), es_dir=es_dir, es_heap="256m")    # the transport port follows
    yield s
    node.stop(s)
    shutil.rmtree(es_dir, ignore_errors=True)


@pytest.mark.slow
def test_a_second_start_reuses_the_cached_distribution_and_stop_stops(throwaway_node):
    s = throwaway_node
    assert (s.es_home / "bin" / "elasticsearch").exists(), "the session node already unpacked the distribution"
    before = os.stat(s.es_home).st_mtime_ns
    st = node.start(s)
    assert st.running and st.health in ("green", "yellow")
    assert st.version == s.es_version
    assert os.stat(s.es_home).st_mtime_ns == before, "start must not download or unpack again"
    assert node.status(s).running
    assert node.stop(s) is True
    after = node.status(s)
    assert not after.running and "not running" in after.describe()
    assert node.stop(s) is False


def test_status_of_a_node_that_never_ran_says_so(tmp_path):
    s = load_settings(env={}, data_dir=tmp_path, es_port=free_port())
    st = node.status(s)
    assert not st.running
    assert "not running" in st.describe()


def test_a_missing_jdk_is_reported_with_what_was_tried(tmp_path, monkeypatch):
    fake = tmp_path / "jdk-17"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "java").write_text("#!/bin/sh\necho 'openjdk version \"17.0.1\"' >&2\n")
    (fake / "bin" / "java").chmod(0o755)
    monkeypatch.setenv("ES_JAVA_HOME", str(fake))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(node, "Path", _NoJvmPath)
    s = load_settings(env={}, data_dir=tmp_path)
    with pytest.raises(node.NodeError) as err:
        node.find_java(s)
    assert "JDK >= 21" in str(err.value) and "Java 17" in str(err.value)


class _NoJvmPath(type(node.Path())):
    """Path whose /usr/lib/jvm does not exist, so only the environment's JDK is considered."""

    def is_dir(self):
        return False if str(self) == "/usr/lib/jvm" else super().is_dir()


def test_settings_come_from_the_environment(tmp_path):
    s = load_settings(env={"DEALWATCH_ES_PORT": "9333", "DEALWATCH_DATA_DIR": str(tmp_path)})
    assert s.es_port == 9333 and s.data_dir == tmp_path
    assert s.effective_es_url == "http://127.0.0.1:9333"
    with pytest.raises(ValueError, match="DEALWATCH_ES_PORT"):
        load_settings(env={"DEALWATCH_ES_PORT": "lots"})


def test_a_node_on_another_http_port_starts_beside_the_first_on_its_own_transport_port(es_node, second_node):
    assert second_node.es_port != es_node.es_port
    assert second_node.es_transport_port == second_node.es_port + 100 != es_node.es_transport_port
    st = node.status(second_node)
    assert st.running and st.health in ("green", "yellow")
    assert node.status(es_node).running, "the first node is untouched"


def test_a_taken_transport_port_is_named_with_its_setting_before_java_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        s = load_settings(env={}, data_dir=tmp_path, es_port=free_http_port(), es_transport_port=port)
        with pytest.raises(node.NodeError) as err:
            node.start(s)
    message = str(err.value)
    assert f"transport port {port}" in message and "DEALWATCH_ES_TRANSPORT_PORT" in message
    assert not (s.es_logs_path / "startup.log").exists(), "Java was not started"


@pytest.mark.slow
def test_a_start_that_fails_inside_elasticsearch_reports_the_cause_not_the_stack(second_node):
    """A node pointed at the data of a running node (two nodes, one data path) cannot lock it."""
    es_dir = second_node.es_root.parent / f"{second_node.es_root.name}-twin"
    s = second_node.replace(es_port=free_http_port(), es_dir=es_dir)
    try:
        es_dir.mkdir()
        (es_dir / "data").symlink_to(second_node.es_data_path)
        with pytest.raises(node.NodeError) as err:
            node.start(s)
    finally:
        node.stop(s)
        shutil.rmtree(es_dir, ignore_errors=True)
    message = str(err.value)
    first_line = message.splitlines()[0]
    assert "failed to obtain node locks" in first_line, message
    assert "\tat org.elasticsearch" not in message and "at org.elasticsearch" not in first_line
    assert str(s.es_logs_path / "startup.log") in message, "it says where the whole output is"
