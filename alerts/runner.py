"""One run of one alert: find what is new, freeze it as a digest, deliver it, mark it — exactly once.

The protocol (state in the archive's cluster, :mod:`indexer.deliveries`):

1. **Lease.** The runner holds the alert (``alerts_lease`` seconds, compare-and-set on its state)
   so two schedulers, or a scheduler and ``dealwatch alerts run``, never deliver it at once.
2. **A pending digest first.** A digest not yet acknowledged by all its targets is sent again,
   unchanged (same entries, same Message-ID per recipient, same webhook idempotency key), to the
   targets that have not acknowledged it — before anything new is looked at. If its items are
   already in the ledger, its marking was interrupted after the acknowledgement: it is completed,
   nothing is sent.
3. **Else what is new:** matches of the saved search crawled or changed since the alert's ``since``
   time that are not in the ledger, oldest first, at most ``alerts_digest_max``; they are frozen
   into a new pending digest (written before anything is sent: the write-ahead record).
4. **Deliver** to each target that has not acknowledged; each acknowledgement is recorded on the
   digest at once (``acknowledged``), so a retry after a partial failure sends only to the rest.
5. **Mark** when every target acknowledged: ledger entries for every item, then the digest
   ``sent``, then the state (last delivery). A failure instead records the error and the next
   attempt (``alerts_retry_backoff`` doubled per consecutive failure, at most ``alerts_retry_max``).

What the protocol cannot tell: a target that acknowledged while the runner died before recording
it (step 4) gets that digest once more, with the same Message-ID / idempotency key.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from dealwatch.dates import utcnow
from dealwatch.settings import Settings
from indexer.archive import Archive
from indexer.deliveries import Digest
from indexer.errors import BadQuery
from indexer.saved_searches import SavedSearch
from alerts import channels, digest as digests, render
from alerts.channels import DeliveryFailed
from alerts.render import Audience

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one run did, for the log, the CLI and the scheduler (which schedules retries from it)."""

    alert_id: str
    status: str            # sent | nothing-new | failed | busy | paused | no-channel | missing | dropped
    digest_id: str = ""
    delivered: int = 0
    more: bool = False
    resent: bool = False
    error: str = ""
    next_attempt_at: datetime | None = None

    def line(self) -> str:
        if self.status == "sent":
            text = f"sent {self.delivered} article(s) in digest {self.digest_id}"
            if self.resent:
                text += " (a digest sent again after an interrupted delivery)"
            return text + ("; more wait for the next digest" if self.more else "")
        if self.status == "failed":
            if self.next_attempt_at is None:
                return f"failed: {self.error}"
            return f"delivery failed: {self.error}; next attempt {self.next_attempt_at:%Y-%m-%d %H:%M:%S} UTC"
        return {"nothing-new": "nothing new", "busy": "another runner is delivering it now",
                "paused": "paused", "no-channel": "no channel (no e-mail, no webhook): nothing to deliver",
                "missing": "no such saved search", "dropped": "every recipient left: the digest was dropped"
                }.get(self.status, self.status)


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def audience_of(search: SavedSearch) -> Audience:
    return Audience(alert_id=search.id, name=search.name, emails=search.emails, webhook_url=search.webhook_url,
                    webhook_format=search.webhook_format, webhook_secret=search.webhook_secret,
                    query=search.query, kind="articles")


def run_alert(archive: Archive, settings: Settings, alert_id: str) -> Outcome:
    """One run of a saved search's alert (see the module's protocol)."""
    search = archive.saved_search(alert_id)
    if search is None:
        return Outcome(alert_id, "missing")
    if search.paused:
        return Outcome(alert_id, "paused")
    if not search.has_channel:
        return Outcome(alert_id, "no-channel")
    try:
        params = search.params
    except BadQuery as exc:     # stored before the query language changed: a person has to fix it
        error = f"the saved search no longer works: {exc} (edit it on /alerts or with dealwatch alerts edit)"
        archive.update_alert_state(alert_id, last_run_at=utcnow(), last_error=error, last_error_at=utcnow())
        return Outcome(alert_id, "failed", error=error)
    audience = audience_of(search)

    def find_new() -> tuple[list[str], list[dict], bool]:
        matches, more = archive.new_matches(alert_id, params, search.since or search.created_at or utcnow(),
                                            settings.alerts_digest_max)
        entries = digests.article_entries(matches, settings)
        return [m["id"] for m in matches], entries, more

    return deliver_new(archive, settings, audience, find_new)


def deliver_new(archive: Archive, settings: Settings, audience: Audience,
                find_new: Callable[[], tuple[list[str], list[dict], bool]]) -> Outcome:
    """The protocol for any audience: lease, a pending digest first, else what ``find_new`` gives."""
    alert_id = audience.alert_id
    owner = runner_id()
    if not archive.take_alert_lease(alert_id, owner, settings.alerts_lease):
        return Outcome(alert_id, "busy")
    try:
        digest = archive.pending_digest(alert_id)
        resent = digest is not None and digest.attempts > 0
        if digest is None:
            item_ids, entries, more = find_new()
            if not item_ids:
                archive.update_alert_state(alert_id, last_run_at=utcnow())
                return Outcome(alert_id, "nothing-new")
            digest = Digest(digest_id=uuid.uuid4().hex, alert_id=alert_id, entries=entries, item_ids=item_ids,
                            targets=audience.targets, kind=audience.kind, more=more)
            archive.save_digest(digest)          # write-ahead: from here on these items belong to this digest
        return _deliver(archive, settings, audience, digest, resent, owner)
    finally:
        archive.release_alert_lease(alert_id, owner)


def _deliver(archive: Archive, settings: Settings, audience: Audience, digest: Digest, resent: bool,
             owner: str) -> Outcome:
    alert_id = digest.alert_id
    marked = archive.delivered(alert_id, digest.item_ids)
    if digest.digest_id in marked.values():
        # acknowledged and partly marked before an interruption: finish the marking, send nothing
        return _mark(archive, digest, resent=False)
    wanted = set(audience.targets)
    waiting = [t for t in digest.waiting if t in wanted]     # a recipient who left meanwhile gets nothing
    if not waiting and not digest.acknowledged:
        digest.status = "dropped"
        archive.save_digest(digest)
        archive.update_alert_state(alert_id, last_run_at=utcnow())
        return Outcome(alert_id, "dropped", digest_id=digest.digest_id)
    digest.attempts += 1
    archive.save_digest(digest)          # an attempt is counted before it is made (a crash shows as a resend)
    errors: list[str] = []
    for target in waiting:
        if not archive.take_alert_lease(alert_id, owner, settings.alerts_lease):     # renewed before each send
            log.warning("alert %s: the lease ran out and another runner took it; leaving the rest to it", alert_id)
            return Outcome(alert_id, "busy", digest_id=digest.digest_id)
        try:
            ack = _send(archive, settings, audience, digest, target)
        except DeliveryFailed as exc:
            errors.append(f"{target}: {exc}")
            log.warning("alert %s, digest %s to %s: %s", alert_id, digest.digest_id, target, exc)
            continue
        log.info("alert %s, digest %s to %s: %s", alert_id, digest.digest_id, target, ack)
        if settings.alerts_hold_after_send:
            log.warning("holding %.0f s between the acknowledged send and its marking (alerts_hold_after_send)",
                        settings.alerts_hold_after_send)
            time.sleep(settings.alerts_hold_after_send)
        digest.acknowledged.append(target)
        archive.save_digest(digest)
    if errors:
        return _failed(archive, settings, digest, "; ".join(errors))
    return _mark(archive, digest, resent)


def _send(archive: Archive, settings: Settings, audience: Audience, digest: Digest, target: str) -> str:
    if target == "webhook":
        body = render.webhook_body(audience, digest, settings)
        return channels.post_webhook(settings, audience.webhook_url, body, digest.digest_id, audience.webhook_secret)
    unsubscribe = ""
    if audience.kind == "articles":
        token = archive.unsubscribe_link_token(audience.alert_id, target)
        unsubscribe = f"{settings.public_url}/alerts/unsubscribe?token={token}"
    message = render.email_message(audience, digest, settings, target, unsubscribe)
    return channels.send_email(settings, message, target)


def _mark(archive: Archive, digest: Digest, resent: bool) -> Outcome:
    archive.record_delivered(digest)
    state = archive.alert_state(digest.alert_id)
    now = utcnow()
    archive.update_alert_state(digest.alert_id, last_run_at=now, last_delivery_at=now,
                               last_delivered=len(digest.item_ids),
                               delivered_total=state.delivered_total + len(digest.item_ids),
                               last_error="", last_error_at=None, failures=0, next_attempt_at=None)
    return Outcome(digest.alert_id, "sent", digest_id=digest.digest_id, delivered=len(digest.item_ids),
                   more=digest.more, resent=resent)


def _failed(archive: Archive, settings: Settings, digest: Digest, error: str) -> Outcome:
    digest.last_error = error
    archive.save_digest(digest)
    state = archive.alert_state(digest.alert_id)
    failures = state.failures + 1
    wait = min(settings.alerts_retry_max, settings.alerts_retry_backoff * 2 ** (failures - 1))
    now = utcnow()
    next_attempt = now + timedelta(seconds=wait)
    archive.update_alert_state(digest.alert_id, last_run_at=now, last_error=error, last_error_at=now,
                               failures=failures, next_attempt_at=next_attempt)
    return Outcome(digest.alert_id, "failed", digest_id=digest.digest_id, error=error, next_attempt_at=next_attempt)
