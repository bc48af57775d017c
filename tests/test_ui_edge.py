"""The edge of the web app under hostile requests: the token, the session cookie, the Host header,
long addresses, framing and the headers of every answer (search_ui/edge.py, search_ui/auth.py)."""

from __future__ import annotations

import base64
import re
import time

import feedparser
import pytest
from fastapi.testclient import TestClient

from search_ui import auth
from search_ui.app import create_app

TOKEN = "s3cret-ünï"           # a token may hold any character


@pytest.fixture(scope="module")
def guarded(settings, archive):
    with TestClient(create_app(settings.replace(ui_token=TOKEN)), base_url="http://localhost") as c:
        yield c


def _basic(password: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(b"anyone:" + password).decode("ascii")}


@pytest.mark.parametrize("how", ["query", "bearer", "cookie", "basic"])
def test_a_non_ascii_credential_is_refused_not_a_crash(guarded, how):
    wrong = "é"
    if how == "query":
        r = guarded.get("/api/search", params={"token": wrong})
    elif how == "bearer":
        r = guarded.get("/api/search", headers={"Authorization": b"Bearer " + wrong.encode()})
    elif how == "cookie":
        r = guarded.get("/api/search", headers={"Cookie": f"{auth.TOKEN_COOKIE}=9999999999.{wrong}".encode()})
    else:
        r = guarded.get("/api/search", headers=_basic(wrong.encode()))
    assert r.status_code == 401, r.text
    assert r.headers["WWW-Authenticate"] == 'Basic realm="DealWatch"'


@pytest.mark.parametrize("how", ["query", "bearer", "basic"])
def test_a_non_ascii_token_is_accepted_when_it_is_the_token(guarded, how):
    if how == "query":
        r = guarded.get("/api/search", params={"token": TOKEN})
    elif how == "bearer":      # a header carries the UTF-8 bytes as they are
        r = guarded.get("/api/search", headers={"Authorization": b"Bearer " + TOKEN.encode()})
    else:
        r = guarded.get("/api/search", headers=_basic(TOKEN.encode()))
    assert r.status_code == 200, r.text


def test_the_session_cookie_holds_no_token_expires_and_is_secure_over_https(settings, archive):
    app = create_app(settings.replace(ui_token=TOKEN, ui_session_days=2))
    with TestClient(app, base_url="https://localhost") as c:
        r = c.get("/", params={"token": TOKEN, "q": "bank"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/?q=bank"    # the token leaves the address
        cookie = r.headers["set-cookie"]
        assert cookie.startswith(auth.TOKEN_COOKIE + "=")
        value = cookie.split(";", 1)[0].split("=", 1)[1]
        assert TOKEN not in cookie and "s3cret" not in cookie
        assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert f"Max-Age={2 * 86400}" in cookie and "Expires=" in cookie
        assert c.get("/?q=bank").status_code == 200                       # the cookie logs the browser in
    with TestClient(app, base_url="http://localhost") as plain:
        cookie = plain.get("/entities", params={"token": TOKEN}, follow_redirects=False).headers["set-cookie"]
        assert "Secure" not in cookie                                   # over plain http it would never come back
    # the cookie proves the token without being it: another token's app refuses it, an expired one too
    other = create_app(settings.replace(ui_token="another-token"))
    with TestClient(other, base_url="http://localhost") as c:
        c.cookies.set(auth.TOKEN_COOKIE, value)
        assert c.get("/api/search").status_code == 401
        for name in (auth.TOKEN_COOKIE, "dealwatch_token"):      # nor does a cookie holding the token itself
            c.cookies.clear()
            c.cookies.set(name, "another-token")
            assert c.get("/api/search").status_code == 401
    expired, _ = auth.session_cookie(TOKEN, days=1, now=time.time() - 3 * 86400)
    with TestClient(app, base_url="http://localhost") as c:
        c.cookies.set(auth.TOKEN_COOKIE, expired)
        assert c.get("/api/search").status_code == 401


def test_the_api_and_downloads_are_not_redirected_when_given_the_token(guarded):
    r = guarded.get("/export.csv", params={"token": TOKEN, "q": "bank"}, follow_redirects=False)
    assert r.status_code == 200 and r.text.startswith("published_at,")
    r = guarded.get("/api/search", params={"token": TOKEN}, follow_redirects=False)
    assert r.status_code == 200


def test_the_feed_never_carries_the_token_in_its_links(guarded):
    r = guarded.get("/feed.atom", params={"token": TOKEN, "q": "citigroup", "relevance": "all"})
    assert r.status_code == 200
    assert TOKEN not in r.text and "token" not in r.text
    feed = feedparser.parse(r.content)
    assert not feed.bozo
    self_link = next(link.href for link in feed.feed.links if link.rel == "self")
    assert self_link == "http://localhost/feed.atom?q=citigroup&relevance=all"


@pytest.mark.parametrize("host", ["evil.test", "evil.test:8000", "localhost.evil.test", "127.0.0.2"])
def test_a_request_for_another_host_is_refused(settings, archive, host):
    with TestClient(create_app(settings.replace(ui_allowed_hosts="")), base_url=f"http://{host}") as c:
        r = c.get("/api/search")
        assert r.status_code == 400 and "DEALWATCH_UI_ALLOWED_HOSTS" in r.json()["error"]["message"]
        page = c.get("/feed.atom")
        assert page.status_code == 400 and "evil" not in page.headers.get("location", "")


@pytest.mark.parametrize("allowed, host", [("", "localhost:8000"), ("", "127.0.0.1"), ("", "[::1]:8000"),
                                           ("dealwatch.example.org", "dealwatch.example.org"),
                                           ("*.example.org", "news.example.org"), ("*", "anything.test")])
def test_the_hosts_allowed_are_answered(settings, archive, allowed, host):
    with TestClient(create_app(settings.replace(ui_allowed_hosts=allowed)), base_url=f"http://{host}") as c:
        assert c.get("/api/search").status_code == 200


def test_the_feed_links_use_the_checked_host(settings, archive):
    app = create_app(settings.replace(ui_allowed_hosts="dealwatch.example.org"))
    with TestClient(app, base_url="http://dealwatch.example.org") as c:
        feed = feedparser.parse(c.get("/feed.atom", params={"q": "citigroup", "relevance": "all"}).content)
        assert {link.href.split("/")[2] for e in feed.entries for link in e.links if link.rel == "related"} == {
            "dealwatch.example.org"}
        assert c.get("/feed.atom", headers={"Host": "evil.test"}).status_code == 400


def test_a_very_long_address_is_refused_before_it_is_read(client):
    r = client.get("/?lang=" + ",".join(f"l{i}" for i in range(5000)))    # ~30 KB
    assert r.status_code == 414 and "the limit is 16,384" in r.text
    r = client.get("/api/search", params={"q": "a" * 20_000})
    assert r.status_code == 414 and "DEALWATCH_UI_MAX_URL_BYTES" in r.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/", "/help", "/entities", "/api/search", "/export.csv", "/nothing-here"])
def test_no_answer_can_be_framed_sniffed_or_leak_its_address(client, path):
    r = client.get(path)
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert re.fullmatch(r"[0-9.]+ms", r.headers["X-Render-Time"])


@pytest.mark.parametrize("method, path", [("POST", "/api/search"), ("DELETE", "/"), ("PUT", "/export.csv"),
                                          ("POST", "/articles/x")])
def test_a_wrong_method_is_405_with_allow(client, method, path):
    r = client.request(method, path)
    assert r.status_code == 405 and r.headers["Allow"] == "GET"
