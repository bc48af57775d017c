"""Saved searches in the web UI and the JSON API (the real app over the real node).

Specification:
* the results page offers "Save search / alert me" holding the current search; the form saves it and
  /alerts lists it with its schedule, channels, last delivery, next run; pause, edit and delete work;
  a bad form is shown again with the message;
* /api/alerts creates, lists, reads, changes and deletes saved searches (documented in OpenAPI); bad
  input answers 400 with the same message; the webhook secret is never shown.
"""

from __future__ import annotations

import re
from html import unescape


def test_the_results_page_offers_to_save_the_search(client):
    page = client.get("/?q=facebook&lang=en&page=2&size=5")
    link = re.search(r'<a id="save-search"[^>]*href="([^"]+)"', page.text)
    assert link, "no Save search link"
    href = unescape(link.group(1))
    assert href.startswith("/alerts/new?") and "q=facebook" in href and "lang=en" in href and "page=2" not in href
    form = client.get(href)
    assert form.status_code == 200
    assert 'value="facebook"' in form.text and 'value="q=facebook&amp;lang=en"' in form.text


def test_a_search_saved_in_the_form_is_listed_and_can_be_paused_edited_and_deleted(client):
    bad = client.post("/alerts", data={"name": "FB", "query": "q=facebook", "kind": "daily", "time": "25:61",
                                       "tz": "Europe/Warsaw", "emails": "me@example.org"})
    assert bad.status_code == 400 and "is not a time of day" in bad.text and 'value="FB"' in bad.text
    made = client.post("/alerts", data={"name": "Facebook — banki", "query": "q=facebook&lang=en", "kind": "weekly",
                                        "day": "fri", "time": "07:30", "tz": "Europe/Warsaw",
                                        "emails": "Jan Kowalski <jan@example.org>"}, follow_redirects=False)
    assert made.status_code == 303
    alert_id = made.headers["location"].split("saved=")[1]
    listing = client.get("/alerts").text
    row = listing[listing.index(f'data-alert="{alert_id}"'):]
    row = row[:row.index("</tr>")]
    assert "Facebook — banki" in row and "every fri at 07:30 (Europe/Warsaw)" in row
    assert "Jan Kowalski &lt;jan@example.org&gt;" in row and "never" in row and "active" in row
    assert "“facebook” · lang en · relevant" in row

    client.post(f"/alerts/{alert_id}/pause")
    assert client.get("/api/alerts/" + alert_id).json()["paused"] is True
    client.post(f"/alerts/{alert_id}/pause")
    assert client.get("/api/alerts/" + alert_id).json()["paused"] is False

    edit = client.get(f"/alerts/{alert_id}/edit")
    assert edit.status_code == 200 and 'value="Facebook — banki"' in edit.text
    client.post(f"/alerts/{alert_id}", data={"name": "Facebook", "query": "q=facebook&lang=en", "kind": "hourly",
                                             "emails": "", "webhook_url": "https://hooks.example.org/x",
                                             "webhook_format": "slack", "webhook_secret": "shh"})
    changed = client.get("/api/alerts/" + alert_id).json()
    assert changed["name"] == "Facebook" and changed["schedule"] == "hourly" and changed["emails"] == []
    assert changed["webhook_format"] == "slack" and changed["webhook_signed"] is True and "shh" not in str(changed)

    assert client.post(f"/alerts/{alert_id}/delete").status_code == 200     # redirected to the list
    assert client.get("/api/alerts/" + alert_id).status_code == 404
    assert client.get(f"/alerts/{alert_id}/edit").status_code == 404


def test_the_alerts_api(client):
    created = client.post("/api/alerts", json={"name": "Citi", "query": "http://ui/?q=citigroup&source=news-en",
                                               "schedule": "after-crawl", "emails": ["a@example.org"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["query"] == "q=citigroup&source=news-en" and body["schedule_text"] == "after each crawl of its sources"
    assert body["state"]["delivered_total"] == 0
    alert_id = body["id"]
    listed = client.get("/api/alerts").json()["alerts"]
    assert [a["id"] for a in listed if a["name"] == "Citi"] == [alert_id]
    patched = client.patch(f"/api/alerts/{alert_id}", json={"schedule": "daily 06:00 UTC", "paused": True})
    assert patched.status_code == 200 and patched.json()["schedule"] == "daily 06:00 UTC" and patched.json()["paused"]
    bad = client.patch(f"/api/alerts/{alert_id}", json={"emails": ["nobody"]})
    assert bad.status_code == 400 and "'nobody' is not an e-mail address" in bad.json()["error"]["message"]
    bad_new = client.post("/api/alerts", json={"name": "x", "query": "q=(bank"})
    assert bad_new.status_code == 400 and "never closed" in bad_new.json()["error"]["message"]
    assert client.delete(f"/api/alerts/{alert_id}").status_code == 204
    assert client.get(f"/api/alerts/{alert_id}").status_code == 404

    spec = client.get("/openapi.json").json()
    assert {"get", "post"} <= set(spec["paths"]["/api/alerts"]) and \
        {"get", "patch", "delete"} <= set(spec["paths"]["/api/alerts/{alert_id}"])
    assert "webhook_secret" in spec["components"]["schemas"]["AlertIn"]["properties"]
    assert "/api/alerts" in client.get("/docs").text
