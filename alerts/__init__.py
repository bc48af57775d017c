"""Alerts: saved searches delivered to people by e-mail and webhook, exactly once; source-health alerts.

The data flow: the scheduler daemon (``dealwatch/daemon.py``) runs the jobs of :mod:`alerts.jobs`
→ :mod:`alerts.runner` finds what is new for an alert (through :class:`indexer.archive.Archive`),
freezes it as a digest (:mod:`alerts.digest`), renders it (:mod:`alerts.render`), delivers it
(:mod:`alerts.channels`: SMTP, a mailbox file, webhooks) and marks it delivered once acknowledged.
:mod:`alerts.health` does the same for source-health problems; :mod:`alerts.cli` is
``dealwatch alerts``. A sibling of ``crawler`` and ``search_ui``: it imports the indexer and the
ground only.
"""
