"""Saved searches as a user writes them: tables of bad input and the words the user sees; schedules
and their fire times; unsubscribe tokens; the store in the real node (round trip, edits, deletion).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from indexer import store
from indexer.archive import Archive
from indexer.saved_searches import InvalidSavedSearch, Schedule, build
from indexer.unsubscribe import BadToken, sign, verify

GOOD = dict(name="Facebook and banks", query="q=facebook bank", schedule="daily 08:00 Europe/Warsaw")


@pytest.mark.parametrize("changes, words", [
    ({"name": "  "}, "Give the saved search a name"),
    ({"name": "x" * 121}, "the limit is 120"),
    ({"query": "q=%22card+data"}, "never closed"),
    ({"query": "q=facebook&from=yesterday"}, "from must be a date like 2024-05-31"),
    ({"query": "relevance=maybe"}, "Unknown relevance 'maybe'"),
    ({"query": "q=foo:bar"}, "The search cannot be saved: Unknown field 'foo'"),
    ({"query": "q=AND"}, "needs a word before it"),
    ({"schedule": ""}, "Give a schedule"),
    ({"schedule": "monthly"}, "Unknown schedule 'monthly'"),
    ({"schedule": "daily"}, "needs a time, e.g. daily 08:00"),
    ({"schedule": "daily 25:00"}, "'25:00' is not a time of day"),
    ({"schedule": "daily 8.30"}, "write HH:MM"),
    ({"schedule": "daily 08:00 Mars/Olympus"}, "Unknown timezone 'Mars/Olympus'"),
    ({"schedule": "weekly 08:00"}, "A weekly schedule names a day first"),
    ({"schedule": "hourly 08:00"}, "takes nothing after it"),
    ({"emails": ["not-an-address"]}, "'not-an-address' is not an e-mail address"),
    ({"emails": "a@example.org, b at example.org"}, "is not an e-mail address"),
    ({"emails": [f"u{i}@example.org" for i in range(51)]}, "at most 50"),
    ({"webhook_url": "ftp://hooks.example.org/x"}, "is not an http(s) URL"),
    ({"webhook_url": "https://hooks.example.org:99999/x"}, "invalid port"),
    ({"webhook_url": "https://hooks.example.org/x", "webhook_format": "discord"}, "Unknown webhook format 'discord'"),
    ({"webhook_secret": "shh"}, "needs a webhook URL"),
])
def test_bad_input_is_refused_with_a_message_the_user_can_act_on(changes, words):
    with pytest.raises(InvalidSavedSearch) as exc:
        build(**{**GOOD, **changes})
    assert words in str(exc.value)


def test_a_good_saved_search_keeps_the_search_as_the_page_takes_it():
    s = build(name="  Banki   i dane  ", query="http://ui.test/?q=bank&lang=pl&lang=en&page=3&size=50&sort=newest",
              schedule="WEEKLY Friday 17:30 Europe/Warsaw", emails="Jan Kowalski <jan@example.org>, ola@example.org",
              webhook_url="https://hooks.example.org/T/B/X", webhook_format="Slack", webhook_secret="shh")
    assert s.name == "Banki i dane"
    assert s.query == "q=bank&lang=pl&lang=en&sort=newest"          # no paging: a digest has no pages
    assert s.params.langs == ("pl", "en")
    assert s.schedule.text == "weekly fri 17:30 Europe/Warsaw" and Schedule.parse(s.schedule.text) == s.schedule
    assert s.emails == ("Jan Kowalski <jan@example.org>", "ola@example.org")
    assert s.webhook_format == "slack" and s.public()["webhook_signed"] and "webhook_secret" not in s.public()


@pytest.mark.parametrize("schedule, after, expected", [
    ("hourly", "2026-03-10T10:15:00+00:00", "2026-03-10T11:00:00+00:00"),
    ("daily 08:00 UTC", "2026-03-10T08:00:00+00:00", "2026-03-11T08:00:00+00:00"),
    ("daily 08:00 Europe/Warsaw", "2026-01-10T06:00:00+00:00", "2026-01-10T07:00:00+00:00"),     # CET
    ("daily 08:00 Europe/Warsaw", "2026-07-10T05:00:00+00:00", "2026-07-10T06:00:00+00:00"),     # CEST
    ("weekly mon 09:30 UTC", "2026-12-01T00:00:00+00:00", "2026-12-07T09:30:00+00:00"),          # a Tuesday
    ("after-crawl", "2026-12-01T00:00:00+00:00", None),
])
def test_schedules_fire_at_the_local_time_they_name(schedule, after, expected):
    got = Schedule.parse(schedule).next_after(datetime.fromisoformat(after))
    assert (got.isoformat() if got else None) == expected


def test_the_apscheduler_triggers_fire_when_the_schedule_says():
    from alerts.jobs import trigger_for
    now = datetime(2026, 7, 10, 5, 7, 30, tzinfo=timezone.utc)   # not on a fire time
    for text in ("hourly", "daily 08:00 Europe/Warsaw", "weekly sun 23:45 America/New_York"):
        sched = Schedule.parse(text)
        assert trigger_for(sched).get_next_fire_time(None, now) == sched.next_after(now)


def test_unsubscribe_tokens_name_one_recipient_of_one_alert_and_refuse_any_change():
    token = sign("secret", "a1b2c3", "Łukasz <l@example.org>")
    assert verify("secret", token) == ("a1b2c3", "Łukasz <l@example.org>")
    for bad in (token[:-1], token.replace(".", ".x"), "x" + token, "", "no-dot", sign("other", "a1b2c3", "l@example.org")):
        with pytest.raises(BadToken, match="not valid"):
            verify("secret", bad)


def test_saved_searches_are_kept_in_the_cluster(settings):
    s = settings.replace(index_prefix=f"{settings.index_prefix}ss-")
    archive = Archive(s)
    store.drop_all(archive._es, s)
    try:
        assert archive.saved_searches() == []
        made = archive.save_search(build(**GOOD, emails=["a@example.org"]))
        assert archive.saved_search(made.id) == made
        assert archive.find_saved_search("facebook AND BANKS".replace("AND", "and")) == made
        edited = archive.save_search(build(name="Renamed", query=made.query, schedule="after-crawl", base=made))
        assert edited.since == made.since                   # the same search: new matches still counted from creation
        requeried = build(name="Renamed", query="q=google", schedule="after-crawl", base=edited)
        assert requeried.since > made.since                 # a changed search counts from the change
        assert [x.name for x in archive.saved_searches()] == ["Renamed"]
        assert archive.signing_secret() == archive.signing_secret() and len(archive.signing_secret()) > 30
        assert archive.delete_saved_search(made.id) and archive.saved_search(made.id) is None
        assert not archive.delete_saved_search(made.id)
    finally:
        store.drop_all(archive._es, s)
