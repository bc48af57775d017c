"""The settings: read from DEALWATCH_* variables, checked at start, copied and handed to child processes whole."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from dealwatch.settings import REPO_ROOT, Settings, SettingsError, load_settings

# (variable, bad value, words the user must see)
BAD_VALUES = [
    ("DEALWATCH_ES_PORT", "lots", "a valid integer"),
    ("DEALWATCH_ES_PORT", "70000", "less than or equal to 65535"),
    ("DEALWATCH_UI_PORT", "0", "greater than or equal to 1"),
    ("DEALWATCH_DOWNLOAD_TIMEOUT", "0", "greater than 0"),
    ("DEALWATCH_ES_REQUEST_TIMEOUT", "-5", "greater than 0"),
    ("DEALWATCH_BULK_CHUNK_SIZE", "0", "greater than or equal to 1"),
    ("DEALWATCH_MAX_PAGE_BYTES", "5MB", "a valid integer"),
    ("DEALWATCH_EXTRACTION_MODE", "fastest", "one of 'balanced', 'precision', 'recall' or 'fast'"),
    ("DEALWATCH_RELEVANCE_THRESHOLD", "1.5", "less than or equal to 1"),
    ("DEALWATCH_NEAR_DUPLICATE_THRESHOLD", "-0.1", "greater than or equal to 0"),
    ("DEALWATCH_ES_HEAP", "1gb", "a Java heap size such as 1g or 512m"),
    ("DEALWATCH_ES_HEAP", "0m", "a Java heap size"),
    ("DEALWATCH_ES_URL", "es.example.org:9200", "an http(s) URL"),
    ("DEALWATCH_ES_URL", "http://es.example.org:99999", "a valid port"),
    ("DEALWATCH_CONTACT_URL", "our team", "an http(s) URL"),
    ("DEALWATCH_SCHEDULER_DB_URL", "jobs.sqlite", "a SQLAlchemy URL"),
    ("DEALWATCH_INDEX_PREFIX", "Staging-", "an index name prefix"),
    ("DEALWATCH_INDEX_PREFIX", "a b", "an index name prefix"),
    ("DEALWATCH_USER_AGENT", "Bot ({contact})", "only placeholder is {contact_url}"),
    ("DEALWATCH_ES_VERSION", "latest", "an Elasticsearch version"),
    ("DEALWATCH_ES_CA_CERTS", "/nonexistent/ca.pem", "an existing file"),
]


@pytest.mark.parametrize("variable, value, words", BAD_VALUES)
def test_a_bad_variable_fails_at_load_naming_the_variable_and_why(variable, value, words):
    with pytest.raises(SettingsError) as err:
        load_settings(env={variable: value})
    assert str(err.value).startswith(f"{variable}={value!r} is not ")
    assert words in str(err.value)


def test_every_bad_variable_is_named_at_once():
    with pytest.raises(SettingsError) as err:
        load_settings(env={"DEALWATCH_ES_PORT": "lots", "DEALWATCH_ES_HEAP": "huge", "DEALWATCH_UI_PORT": "8001"})
    assert "DEALWATCH_ES_PORT='lots'" in str(err.value) and "DEALWATCH_ES_HEAP='huge'" in str(err.value)
    assert "UI_PORT" not in str(err.value)


def test_values_come_from_the_environment_and_an_empty_variable_means_the_default(tmp_path):
    s = load_settings(env={"DEALWATCH_ES_PORT": "9333", "DEALWATCH_DATA_DIR": str(tmp_path),
                           "DEALWATCH_EXTRACTION_MODE": "precision", "DEALWATCH_UI_HOST": "",
                           "DEALWATCH_RELEVANCE_THRESHOLD": "0.7", "DEALWATCH_NOT_A_SETTING": "ignored"})
    assert (s.es_port, s.extraction_mode, s.relevance_threshold, s.ui_host) == (9333, "precision", 0.7, "127.0.0.1")
    assert s.data_dir == tmp_path and s.raw_dir == tmp_path / "raw" and s.state_dir == tmp_path / "state"
    assert s.effective_es_url == "http://127.0.0.1:9333" and s.local_node


def test_keywords_win_over_the_environment_and_are_named_when_bad():
    assert load_settings(env={"DEALWATCH_UI_PORT": "8001"}, ui_port=8002).ui_port == 8002
    with pytest.raises(SettingsError, match=r"^ui_port=0 is not greater than or equal to 1$"):
        load_settings(env={"DEALWATCH_UI_PORT": "8001"}, ui_port=0)
    with pytest.raises(SettingsError, match="ui_prot=1 is not a setting"):
        load_settings(env={}, ui_prot=1)


def test_paths_expand_the_home_folder_and_become_absolute():
    s = load_settings(env={"DEALWATCH_DATA_DIR": "~/dw-data", "DEALWATCH_SOURCES_FILE": "my-sources.yaml"})
    assert s.data_dir == Path.home() / "dw-data"
    assert s.sources_file == Path.cwd() / "my-sources.yaml"


def test_the_raw_pages_folder_is_a_setting_of_its_own_inside_the_data_directory(tmp_path):
    s = load_settings(env={"DEALWATCH_DATA_DIR": str(tmp_path), "DEALWATCH_RAW_DIR": str(tmp_path / "warc")})
    assert s.raw_dir == tmp_path / "warc"
    assert s.replace(index_prefix="other-").raw_dir == tmp_path / "warc", "an explicit raw_dir is kept"
    with pytest.raises(SettingsError, match=r"DEALWATCH_RAW_DIR='/elsewhere/raw' is not inside DEALWATCH_DATA_DIR"):
        load_settings(env={"DEALWATCH_DATA_DIR": str(tmp_path), "DEALWATCH_RAW_DIR": "/elsewhere/raw"})


def test_replace_validates_and_a_derived_folder_follows_its_base(tmp_path):
    s = load_settings(env={"DEALWATCH_DATA_DIR": str(tmp_path / "a")})
    moved = s.replace(data_dir=tmp_path / "b", es_heap="512m")
    assert moved.raw_dir == tmp_path / "b" / "raw" and moved.es_root == tmp_path / "b" / "elasticsearch"
    assert moved.es_heap == "512m" and s.es_heap == "1g"
    with pytest.raises(SettingsError, match="es_heap='lots' is not a Java heap size"):
        s.replace(es_heap="lots")
    with pytest.raises(SettingsError, match="AUTOTHROTTLE_MAX_DELAY=5.0 is below .*AUTOTHROTTLE_START_DELAY=10.0"):
        s.replace(autothrottle_start_delay=10.0, autothrottle_max_delay=5.0)


def test_replace_does_not_read_the_environment(monkeypatch, tmp_path):
    s = load_settings(env={}, data_dir=tmp_path)
    monkeypatch.setenv("DEALWATCH_ES_PORT", "9555")
    assert s.replace(ui_port=8100).es_port == 9200


def test_settings_are_frozen_hashable_and_equal_by_value(tmp_path):
    a = load_settings(env={}, data_dir=tmp_path)
    b = load_settings(env={"DEALWATCH_DATA_DIR": str(tmp_path)})
    assert a == b and hash(a) == hash(b) and len({a, b, a.replace(ui_port=8100)}) == 2
    with pytest.raises(ValidationError):
        a.es_port = 1  # type: ignore[misc]


def test_secrets_are_not_shown_in_the_settings_repr():
    s = load_settings(env={"DEALWATCH_ES_PASSWORD": "hunter2", "DEALWATCH_UI_TOKEN": "t0ken",
                           "DEALWATCH_ES_API_KEY": "k3y"})
    assert s.es_password == "hunter2"
    assert not any(secret in repr(s) for secret in ("hunter2", "t0ken", "k3y"))


def test_as_environment_gives_back_exactly_these_settings(tmp_path):
    s = load_settings(env={}, data_dir=tmp_path, es_dir=tmp_path / "node", index_prefix="child-",
                      relevance_threshold=0.1 + 0.2, extraction_mode="fast", crawl_stop_grace=1.5)
    environment = s.as_environment()
    assert set(environment) == {f"DEALWATCH_{name.upper()}" for name in Settings.model_fields}
    assert load_settings(env=environment) == s
    # a variable of the parent's own environment cannot leak into a child that has none set
    defaulted = load_settings(env={}, data_dir=tmp_path)
    assert environment["DEALWATCH_ES_DIR"] and defaulted.as_environment()["DEALWATCH_ES_DIR"] == ""
    assert load_settings(env={"DEALWATCH_ES_DIR": "/stale", **defaulted.as_environment()}).es_dir is None


def test_a_child_process_started_with_as_environment_sees_the_same_settings(tmp_path):
    s = load_settings(env={}, data_dir=tmp_path, index_prefix="child-", ui_port=8123, extract_workers=1)
    env = {**os.environ, "DEALWATCH_UI_PORT": "9999", "DEALWATCH_ES_DIR": "/stale", **s.as_environment()}
    code = "from dealwatch.settings import get_settings; print(get_settings().model_dump_json())"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert Settings.model_validate_json(out) == s
    assert json.loads(out)["ui_port"] == 8123


def test_a_command_stops_at_start_on_a_bad_variable_with_one_line():
    dealwatch = Path(sys.executable).with_name("dealwatch")
    proc = subprocess.run([str(dealwatch), "status"], env={**os.environ, "DEALWATCH_ES_PORT": "lots"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: DEALWATCH_ES_PORT='lots' is not a valid integer, "
                                   "unable to parse string as an integer")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_background_service_runs_with_the_settings_it_was_started_with(tmp_path, monkeypatch):
    from dealwatch import services
    port = _free_port()
    s = load_settings(env={}, data_dir=tmp_path, index_prefix="service-", ui_port=port)
    monkeypatch.setenv("DEALWATCH_UI_PORT", str(_free_port()))   # the parent's environment says otherwise
    serve_settings = ("import http.server\n"
                      "from dealwatch.settings import get_settings\n"
                      "s = get_settings()\n"
                      "class H(http.server.BaseHTTPRequestHandler):\n"
                      "    def do_GET(self):\n"
                      "        body = s.model_dump_json().encode()\n"
                      "        self.send_response(200); self.end_headers(); self.wfile.write(body)\n"
                      "http.server.HTTPServer(('127.0.0.1', s.ui_port), H).serve_forever()\n")
    url = f"http://127.0.0.1:{port}/"
    try:
        services.start(s, "settings-echo", [sys.executable, "-c", serve_settings], ready_url=url, timeout=20)
        assert Settings.model_validate_json(httpx.get(url, timeout=10).text) == s
        assert (s.logs_dir / "settings-echo.log").exists()
    finally:
        assert services.stop(s, "settings-echo")
