"""Alerts delivered for real: the runner against the real node, a real SMTP server (aiosmtpd) and a
real webhook receiver on loopback.

Specification:
* a digest arrives with the new matching articles (near-duplicates grouped, each with title, source,
  date, relevance, evidence and its archive link), in HTML and plain text, its Polish subject and
  names encoded so that Python's ``email`` package reads them back; a second run sends nothing;
* articles crawled later arrive in the next digest only; a new version of a delivered article is
  not sent again; reindexing the articles behind their alias changes nothing;
* an SMTP server refusing (4xx, then 5xx) fails the delivery visibly (last error, next attempt with
  a doubled backoff); once it accepts, the same digest arrives, once;
* a webhook that times out is retried with the same idempotency key and body, signed with HMAC;
  the Slack format is a text message;
* the digest's unsubscribe link works without the UI token and removes that recipient;
* the digest size is bounded: the rest comes in the next digest.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from alerts import channels
from alerts.cli import alerts as alerts_command
from alerts.runner import run_alert
from alerts_helpers import Hook, Mailroom, parts, smtp_settings, write_articles
from dealwatch.settings import set_settings, get_settings
from indexer import store
from indexer.archive import Archive
from indexer.saved_searches import build
from indexer.schema import content_hash

NAME = "Banki i dane klientów — Łódź"
RECIPIENT = "Łukasz Żółć <lukasz@example.org>"


@pytest.fixture()
def room():
    r = Mailroom().start()
    yield r
    r.stop()


@pytest.fixture()
def hook():
    h = Hook().start()
    yield h
    h.stop()


@pytest.fixture()
def s(settings, room, tmp_path, request):
    tag = request.node.name[-10:].lower().replace("_", "-").strip("-")
    s = smtp_settings(settings, room, index_prefix=f"{settings.index_prefix}al-{tag}-", data_dir=tmp_path / "data",
                      alerts_retry_backoff=30.0, alerts_secret="test-secret")
    archive = Archive(s)
    store.drop_all(archive._es, s)
    archive.ensure()
    previous = get_settings()
    set_settings(s)
    yield s
    set_settings(previous)
    store.drop_all(archive._es, s)


@pytest.fixture()
def archive(s):
    a = Archive(s)
    yield a
    a.close()


def _alert(archive, **kw):
    fields = dict(name=NAME, query="q=citigroup", schedule="daily 08:00 Europe/Warsaw", emails=[RECIPIENT])
    fields.update(kw)
    return archive.save_search(build(**fields))


def test_a_digest_arrives_with_the_right_articles_and_a_second_run_sends_nothing(s, archive, room, es):
    write_articles(es, s, ["google-office"])                 # before the alert: never "new"
    alert = _alert(archive)
    ids = write_articles(es, s, ["fb-banks", "fb-banks-wire", "amazon-wf", "formula", "google-office"])

    outcome = run_alert(archive, s, alert.id)
    assert outcome.status == "sent", outcome.line()
    [msg] = room.wait_for(1)
    assert msg["Subject"] == f"[DealWatch] {NAME}: 3 new articles"
    assert msg["To"].addresses[0].display_name == "Łukasz Żółć"
    assert msg["From"].addresses[0].display_name == "Monitoring Łódź"
    raw = room.raw[0][1].decode("ascii")                      # the wire form is ASCII: RFC 2047 words
    assert "=?utf-8?" in raw.split("\n\n", 1)[0].lower()
    assert room.raw[0][0] == ["lukasz@example.org"]
    text, html = parts(msg)
    # citigroup: the two copies of the Facebook story (one cluster) and the formula article
    assert "Facebook asked big US banks for customers' card data" in text
    assert "Also: wire-en — Facebook wants bank data, report says" in text
    assert f"http://ui.test:8000/articles/{ids['fb-banks']}" in text and f"/articles/{ids['fb-banks-wire']}" in text
    assert "Citigroup formula" in text
    assert "Amazon" not in text and "Google" not in text
    assert "news-en · 2024-05-01 · relevance 0.90" in text
    assert "Facebook asked JPMorgan Chase and Citigroup for detailed financial information" in text   # evidence
    assert "<blockquote>" in html and "&lt;" not in html.split("<body>")[0]
    assert "&quot;http://evil.test&quot;" in html or "=HYPERLINK(&quot;" in html     # escaped, never markup
    unsubscribe = msg["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("http://ui.test:8000/alerts/unsubscribe?token=")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert archive.ledger_size(alert.id) == 3

    again = run_alert(archive, s, alert.id)
    assert again.status == "nothing-new"
    assert len(room.raw) == 1
    state = archive.alert_state(alert.id)
    assert state.delivered_total == 3 and state.last_error == "" and state.last_delivery_at is not None


def test_new_articles_arrive_in_the_next_digest_only_and_changed_ones_are_not_sent_again(s, archive, room, es):
    alert = _alert(archive)
    write_articles(es, s, ["fb-banks", "formula"])
    assert run_alert(archive, s, alert.id).status == "sent"
    # a new article, and a new version of one already delivered
    write_articles(es, s, ["undated"])
    changed_text = "Citigroup and Facebook: the story goes on with new figures about card data."
    write_articles(es, s, ["formula"], text=changed_text,
                   content_hash=content_hash(sa_title("formula"), changed_text))
    outcome = run_alert(archive, s, alert.id)
    assert outcome.status == "sent" and outcome.delivered == 1
    second = room.wait_for(2)[1]
    text, _ = parts(second)
    assert "Citigroup undated note" in text and "undated" in text
    assert "formula" not in text.lower() and "Facebook asked" not in text
    assert second["Subject"].endswith(": 1 new article")
    # reindexing behind the alias (a new concrete index, the alias moved) changes nothing
    _reindex_behind_alias(es, s)
    assert run_alert(archive, s, alert.id).status == "nothing-new"
    assert len(room.raw) == 2


def sa_title(key: str) -> str:
    import search_archive
    return search_archive.BY_KEY[key].title


def _reindex_behind_alias(es, s) -> None:
    old = next(iter(es.indices.get_alias(name=s.articles_alias)))
    new = f"{s.articles_alias}-v99"
    es.indices.create(index=new)                              # the template gives it the mapping
    # the bundled distribution has no _reindex module: copy every document with its id, as a reindex does
    from elasticsearch.helpers import bulk, scan
    bulk(es, ({"_index": new, "_id": h["_id"], "_source": h["_source"]} for h in scan(es, index=old)),
         refresh="wait_for")
    es.indices.update_aliases(actions=[{"remove": {"index": old, "alias": s.articles_alias}},
                                       {"add": {"index": new, "alias": s.articles_alias, "is_write_index": True}}])
    es.indices.delete(index=old)


def test_the_smtp_server_refusing_for_now_then_for_good_then_accepting(s, archive, room, es):
    alert = _alert(archive)
    write_articles(es, s, ["fb-banks", "formula"])
    room.refusals.extend(["451 4.3.0 Mailbox busy, try again later", "550 5.7.1 Relaying denied"])

    first = run_alert(archive, s, alert.id)
    assert first.status == "failed" and "451 4.3.0 Mailbox busy" in first.error and "refused for now" in first.error
    state = archive.alert_state(alert.id)
    assert "451" in state.last_error and state.failures == 1
    assert 25 <= (state.next_attempt_at - state.last_error_at).total_seconds() <= 35     # backoff 30 s

    second = run_alert(archive, s, alert.id)
    assert second.status == "failed" and "550 5.7.1 Relaying denied" in second.error
    state = archive.alert_state(alert.id)
    assert state.failures == 2 and 55 <= (state.next_attempt_at - state.last_error_at).total_seconds() <= 65

    listed = CliRunner().invoke(alerts_command, ["list"])
    assert listed.exit_code == 0, listed.output
    assert "failing" in listed.output and "550 5.7.1 Relaying denied" in listed.output and "next attempt" in listed.output
    from fastapi.testclient import TestClient

    from search_ui.app import create_app
    with TestClient(create_app(s)) as client:
        row = client.get("/alerts").text.split(f'data-alert="{alert.id}"')[1].split("</tr>")[0]
    assert "failing" in row and "550 5.7.1 Relaying denied" in row and "next attempt" in row

    write_articles(es, s, ["undated"])                        # new meanwhile: waits for the next digest
    third = run_alert(archive, s, alert.id)
    assert third.status == "sent" and third.delivered == 2 and third.resent
    [msg] = room.wait_for(1)
    assert room.refused == 2
    assert "Citigroup undated note" not in parts(msg)[0]
    state = archive.alert_state(alert.id)
    assert state.last_error == "" and state.failures == 0 and state.next_attempt_at is None
    fourth = run_alert(archive, s, alert.id)
    assert fourth.status == "sent" and fourth.delivered == 1
    assert "Citigroup undated note" in parts(room.wait_for(2)[1])[0]


def test_a_webhook_that_times_out_is_retried_with_the_same_key_and_a_valid_signature(s, archive, hook, es):
    s2 = s.replace(webhook_timeout=1.0)
    alert = _alert(archive, emails=[], webhook_url=hook.url, webhook_secret="shh", webhook_format="json")
    write_articles(es, s2, ["fb-banks", "fb-pl"])
    hook.plan.append(("sleep", 3))

    first = run_alert(archive, s2, alert.id)
    assert first.status == "failed" and "did not answer within 1 s" in first.error
    assert "secret-part" not in first.error                      # a chat webhook's path is its secret
    second = run_alert(archive, s2, alert.id)
    assert second.status == "sent" and second.delivered == 1     # citigroup: fb-banks only
    assert len(hook.requests) == 2
    a, b = hook.requests
    assert a.body == b.body and a.headers["idempotency-key"] == b.headers["idempotency-key"] == second.digest_id
    expected = "sha256=" + hmac.new(b"shh", b.body, hashlib.sha256).hexdigest()
    assert b.headers[channels.SIGNATURE_HEADER.lower()] == expected
    body = b.json
    assert body["type"] == "dealwatch.digest" and body["alert"]["name"] == NAME and body["count"] == 1
    assert body["entries"][0]["title"] == "Facebook asked big US banks for customers' card data"
    assert body["entries"][0]["link"].startswith("http://ui.test:8000/articles/")
    assert run_alert(archive, s2, alert.id).status == "nothing-new" and len(hook.requests) == 2


def test_slack_mattermost_and_teams_get_a_text_message(s, archive, hook, es):
    made = [_alert(archive, name=f"To {fmt}", emails=[], webhook_url=hook.url, webhook_format=fmt)
            for fmt in ("slack", "mattermost", "teams")]
    write_articles(es, s, ["fb-banks"])
    for alert in made:
        assert run_alert(archive, s, alert.id).status == "sent"
    slack, mattermost, teams = (r.json for r in hook.requests)
    assert set(slack) == {"text"} and "<http://ui.test:8000/articles/" in slack["text"] and "|Facebook asked" in slack["text"]
    assert set(mattermost) == {"text"} and "[Facebook asked big US banks for customers' card data](http://ui.test:8000/articles/" in mattermost["text"]
    assert teams["@type"] == "MessageCard" and "](http://ui.test:8000/articles/" in teams["text"]


def test_the_unsubscribe_link_works_without_the_ui_token(s, archive, room, es):
    from fastapi.testclient import TestClient

    from search_ui.app import create_app

    alert = _alert(archive, emails=[RECIPIENT, "other@example.org"])
    write_articles(es, s, ["formula"])
    assert run_alert(archive, s, alert.id).status == "sent"
    mine = next(m for m in room.wait_for(2) if "lukasz" in str(m["To"]))
    link = urlsplit(mine["List-Unsubscribe"].strip("<>"))
    token = parse_qs(link.query)["token"][0]
    with TestClient(create_app(s.replace(ui_token="ui-secret"))) as client:
        assert client.get("/alerts").status_code == 401                      # the UI itself stays closed
        page = client.get(f"{link.path}?{link.query}")
        assert page.status_code == 200 and NAME in page.text and "Unsubscribe" in page.text
        assert archive.saved_search(alert.id).emails == (RECIPIENT, "other@example.org")   # GET changes nothing
        done = client.post(link.path, params={"token": token}, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "unsubscribed" in done.text.lower()
        assert archive.saved_search(alert.id).emails == ("other@example.org",)
        again = client.post(link.path, params={"token": token})              # twice is fine
        assert again.status_code == 200
        forged = client.post(link.path, params={"token": token[:-3] + "abc"})
        assert forged.status_code == 400 and "not valid" in forged.text
    write_articles(es, s, ["undated"])
    assert run_alert(archive, s, alert.id).status == "sent"
    third = room.wait_for(3)[2]
    assert str(third["To"]) == "other@example.org"


def test_a_digest_is_bounded_and_the_rest_comes_next(s, archive, room, es):
    s2 = s.replace(alerts_digest_max=2)
    alert = _alert(archive, query="q=&relevance=all")
    write_articles(es, s2, ["fb-banks", "fb-pl", "google-office", "amazon-wf", "formula"])
    first = run_alert(archive, s2, alert.id)
    assert first.status == "sent" and first.delivered == 2 and first.more
    assert "More matches wait for the next digest." in parts(room.wait_for(1)[0])[0]
    assert run_alert(archive, s2, alert.id).delivered == 2
    last = run_alert(archive, s2, alert.id)
    assert last.delivered == 1 and not last.more
    assert run_alert(archive, s2, alert.id).status == "nothing-new"
    assert archive.ledger_size(alert.id) == 5


def test_email_without_a_server_says_how_to_set_it_up(s, archive, es):
    s2 = s.replace(smtp_host="")
    alert = _alert(archive)
    write_articles(es, s2, ["formula"])
    outcome = run_alert(archive, s2, alert.id)
    assert outcome.status == "failed" and "DEALWATCH_SMTP_HOST" in outcome.error


def test_the_mailbox_file_channel_keeps_the_digest(s, archive, es, tmp_path):
    import mailbox

    box = tmp_path / "mail" / "demo.mbox"
    s2 = s.replace(alerts_mailbox=box)
    alert = _alert(archive)
    write_articles(es, s2, ["formula"])
    assert run_alert(archive, s2, alert.id).status == "sent"
    [msg] = list(mailbox.mbox(str(box)))
    assert "Citigroup formula" in msg.get_payload()[0].get_payload(decode=True).decode("utf-8")


def test_an_article_that_changes_into_matching_is_sent_once(s, archive, room, es):
    alert = _alert(archive)
    write_articles(es, s, ["amazon-wf"])                       # no Citigroup in it: no match
    assert run_alert(archive, s, alert.id).status == "nothing-new"
    text = "Amazon met Wells Fargo and Citigroup to discuss card payments and the data of shoppers."
    [doc_id] = write_articles(es, s, ["amazon-wf"], text=text, content_hash=content_hash(sa_title("amazon-wf"), text),
                              text_lemmas=text.lower()).values()
    assert archive.document(doc_id)["version"] == 2
    outcome = run_alert(archive, s, alert.id)
    assert outcome.status == "sent" and outcome.delivered == 1
    assert f"/articles/{doc_id}" in parts(room.wait_for(1)[0])[0]
    assert run_alert(archive, s, alert.id).status == "nothing-new"
