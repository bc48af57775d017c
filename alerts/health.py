"""Source-health alerts: each new problem of a source (failing, quiet, in trouble) sent to the admin once.

The problems are judged by :mod:`indexer.source_health` from the run history (the /sources page
shows the same); each has a stable event id per onset, and the same exactly-once protocol as the
saved searches (:func:`alerts.runner.deliver_new`) sends the events not yet in the ledger of the
reserved alert id ``source-health`` to ``alerts_admin_email`` and ``alerts_admin_webhook``.
"""

from __future__ import annotations

from email.utils import getaddresses

from dealwatch.settings import Settings
from indexer.archive import Archive
from indexer.saved_searches import display_address
from alerts import digest as digests
from alerts.render import Audience
from alerts.runner import Outcome, deliver_new

HEALTH_ID = "source-health"


def audience(settings: Settings) -> Audience:
    emails = tuple(display_address(n, a) for n, a in getaddresses([settings.alerts_admin_email]) if a)
    return Audience(alert_id=HEALTH_ID, name="source health", emails=emails,
                    webhook_url=settings.alerts_admin_webhook, webhook_format="json", kind="source-health")


def run_health(archive: Archive, settings: Settings, sources: list[str] | None = None) -> Outcome:
    """Send the admin the source-health problems not sent yet (of ``sources``, or of every source)."""
    who = audience(settings)
    if not who.targets:
        return Outcome(HEALTH_ID, "no-channel")

    def find_new():
        health = archive.source_health()
        problems = [p for name, h in health.items() if sources is None or name in sources for p in h.problems]
        known = archive.delivered(HEALTH_ID, [p.event_id for p in problems])
        fresh = [p for p in problems if p.event_id not in known][:settings.alerts_digest_max]
        return [p.event_id for p in fresh], digests.health_entries(fresh, settings), False

    return deliver_new(archive, settings, who, find_new)
