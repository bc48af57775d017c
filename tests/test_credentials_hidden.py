"""A cluster URL with a user name and password never shows them: not on the 503 page or in the API's JSON,
not in the log, /docs, `dealwatch es status`, a settings error or the settings' repr (which the crawler's
Scrapy log prints)."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from dealwatch.cli import main as cli
from dealwatch.settings import SettingsError, load_settings, set_settings
from search_ui.app import create_app
from live import free_port

PASSWORD = "hunter2-Pa55"


@pytest.fixture()
def with_password(settings):
    """Settings naming a cluster by a URL with credentials, on a loopback port nothing listens on."""
    return settings.replace(es_url=f"http://dealwatch:{PASSWORD}@127.0.0.1:{free_port()}", es_max_retries=0)


@pytest.mark.parametrize("path", ["/", "/api/search", "/export.csv", "/export.jsonl", "/feed.atom",
                                  "/articles/abc", "/api/entities", "/sources", "/api/histogram"])
def test_the_unreachable_cluster_is_named_without_its_password(with_password, path, caplog):
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(with_password)) as c:
        r = c.get(path)
    assert r.status_code == 503
    assert "Elasticsearch at http://127.0.0.1:" in r.text and "is not available" in r.text
    assert PASSWORD not in r.text and "dealwatch:" not in r.text
    assert not [rec for rec in caplog.records if PASSWORD in rec.getMessage()]


def test_the_api_docs_and_openapi_hold_no_credentials(with_password):
    with TestClient(create_app(with_password)) as c:
        assert PASSWORD not in c.get("/docs").text and PASSWORD not in c.get("/openapi.json").text


def test_es_status_names_the_cluster_without_its_password(settings, with_password):
    set_settings(with_password)
    try:
        res = CliRunner().invoke(cli, ["es", "status"])
        start = CliRunner().invoke(cli, ["es", "start"])
    finally:
        set_settings(settings)
    assert res.exit_code == 1 and "not reachable" in res.output
    assert PASSWORD not in res.output and "external cluster at http://127.0.0.1:" in res.output
    assert start.exit_code == 2 and PASSWORD not in start.output and "DEALWATCH_ES_URL is set" in start.output


def test_settings_never_print_a_password(with_password):
    assert PASSWORD not in repr(with_password) and "es_url='http://127.0.0.1:" in repr(with_password)
    assert with_password.shown_es_url.startswith("http://127.0.0.1:")
    db = load_settings(env={}, scheduler_db_url=f"postgresql+psycopg://dw:{PASSWORD}@db.example.org/dw")
    assert PASSWORD not in repr(db)
    with pytest.raises(SettingsError) as err:
        load_settings(env={"DEALWATCH_ES_URL": f"http://dealwatch:{PASSWORD}@es.example.org:port"})
    assert PASSWORD not in str(err.value) and "DEALWATCH_ES_URL=" in str(err.value)
