"""``dealwatch alerts add|list|edit|pause|remove|run``: saved searches and their alerts on the terminal.

The same saved searches as the web UI's /alerts page and the JSON API (kept in the archive's
cluster, checked by :func:`indexer.saved_searches.build`); ``run`` delivers now what the scheduler
daemon would deliver on schedule (the same exactly-once runner). A saved search is named by its id
or its name. Bad input reaches the CLI's one handler (``dealwatch/cli.py``: a sentence, exit 2).
"""

from __future__ import annotations

from datetime import datetime, timezone

import click

from dealwatch.settings import get_settings
from indexer.query import RELEVANCE, SearchParams
from indexer.saved_searches import WEBHOOK_FORMATS, InvalidSavedSearch, SavedSearch, build, normalized_query


def _archive():
    from indexer.archive import Archive
    archive = Archive(get_settings())
    archive.ensure_alerts()
    return archive


def _find(archive, name: str) -> SavedSearch:
    found = archive.find_saved_search(name)
    if found is None:
        known = ", ".join(f"{s.id} ({s.name})" for s in archive.saved_searches()) or "none yet"
        raise InvalidSavedSearch(f"No saved search {name!r}: give its id or its exact name (saved: {known}).")
    return found


def _search_options(fn):
    opts = [
        click.option("--url", "search_url", default="", help="A search page URL (or its ?… part) to save as it is."),
        click.option("--entity", "entities", multiple=True, help="Entity id (repeat: all must be mentioned)."),
        click.option("--type", "entity_types", multiple=True, help="Entity type (repeat: any of)."),
        click.option("--source", "sources", multiple=True, help="Source name (repeat: any of)."),
        click.option("--lang", "langs", multiple=True, help="Language code, e.g. en, pl (repeat: any of)."),
        click.option("--from", "date_from", default="", help="Published on or after (YYYY-MM-DD)."),
        click.option("--to", "date_to", default="", help="Published on or before (YYYY-MM-DD)."),
        click.option("--relevance", type=click.Choice(RELEVANCE), default=None,
                     help="relevant (default), possible or all."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _channel_options(fn):
    opts = [
        click.option("--schedule", default=None,
                     help="after-crawl | hourly | 'daily HH:MM [TZ]' | 'weekly DAY HH:MM [TZ]' (default: daily 08:00 UTC)."),
        click.option("--email", "emails", multiple=True, help="A recipient (repeat, or comma-separate)."),
        click.option("--webhook", "webhook_url", default=None, help="A webhook URL digests are POSTed to."),
        click.option("--webhook-format", type=click.Choice(WEBHOOK_FORMATS), default=None,
                     help="json (default), or the text form of slack, mattermost or teams incoming webhooks."),
        click.option("--webhook-secret", default=None, help="Sign each POST (header X-DealWatch-Signature-256)."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _query(query, search_url, entities, entity_types, sources, langs, date_from, date_to, relevance) -> str:
    if search_url:
        if query or entities or entity_types or sources or langs or date_from or date_to or relevance:
            raise click.UsageError("--url is the whole search: give it alone, or the query and filters without it.")
        return normalized_query(search_url)
    return normalized_query(SearchParams.parse({
        "q": query, "entities": entities, "entity_types": entity_types, "sources": sources, "langs": langs,
        "date_from": date_from, "date_to": date_to, "relevance": relevance or "relevant"}))


def _when(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M") if value else "-"


@click.group("alerts")
def alerts() -> None:
    """Saved searches that come to you by e-mail or webhook (see docs/alerts.md)."""


@alerts.command("add")
@click.argument("name")
@click.argument("query", required=False, default="")
@_search_options
@_channel_options
@click.option("--paused", is_flag=True, help="Save it without delivering yet.")
def add(name, query, search_url, entities, entity_types, sources, langs, date_from, date_to, relevance,
        schedule, emails, webhook_url, webhook_format, webhook_secret, paused):
    """Save a search as NAME, with QUERY and filters as `dealwatch search` takes them (or --url).

    Example: dealwatch alerts add "Facebook and banks" 'facebook bank' --lang en --email me@example.org
    --schedule "daily 08:00 Europe/Warsaw"
    """
    archive = _archive()
    search = build(name=name, query=_query(query, search_url, entities, entity_types, sources, langs, date_from,
                                           date_to, relevance),
                   schedule=schedule or "daily 08:00", emails=emails, webhook_url=webhook_url or "",
                   webhook_format=webhook_format or "json", webhook_secret=webhook_secret or "", paused=paused)
    archive.save_search(search)
    click.echo(f"saved {search.id}: {search.name} — {search.schedule.describe()}"
               + ("" if search.has_channel else " (no e-mail or webhook yet: nothing is delivered)"))


@alerts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (as the API's /api/alerts) instead.")
def list_alerts(as_json: bool):
    """Every saved search: schedule, channels, last delivery, next run, last error and next attempt."""
    import json

    archive = _archive()
    searches = archive.saved_searches()
    states = archive.alert_states()
    if as_json:
        out = [{**s.public(), "state": states[s.id].as_dict() if s.id in states else None} for s in searches]
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    if not searches:
        click.echo("no saved searches yet (dealwatch alerts add NAME QUERY --email you@example.org)")
        return
    header = f"{'id':<12} {'name':<28} {'schedule':<30} {'last delivery':<16} {'sent':>5}  {'next run':<16} status"
    click.echo(header)
    click.echo("-" * len(header))
    errors = []
    for s in searches:
        st = states.get(s.id)
        status = "paused" if s.paused else "no channel" if not s.has_channel else \
            "failing" if st and st.last_error else "active"
        nxt = "after crawls" if s.schedule.kind == "after-crawl" else _when(st.next_run_at if st else None)
        click.echo(f"{s.id:<12} {s.name[:28]:<28} {s.schedule.text[:30]:<30} "
                   f"{_when(st.last_delivery_at if st else None):<16} {(st.delivered_total if st else 0):>5}  "
                   f"{nxt:<16} {status}")
        channels = [*s.emails, *([f"webhook {s.webhook_format}"] if s.webhook_url else [])]
        click.echo(f"{'':<12} search: ?{s.query or '(every article)'}  to: {', '.join(channels) or '-'}")
        if st and st.last_error:
            errors.append(f"{s.id} ({_when(st.last_error_at)}): {st.last_error}; next attempt "
                          f"{_when(st.next_attempt_at)}")
    if errors:
        click.echo("\nlast errors:")
        for e in errors:
            click.echo(f"  {e}")


@alerts.command("edit")
@click.argument("alert")
@click.option("--name", default=None, help="A new name.")
@click.option("--query", "query", default=None, help="A new query text (the filters stay unless given).")
@_search_options
@_channel_options
@click.option("--no-email", is_flag=True, help="Remove every recipient (before adding --email ones).")
def edit(alert, name, query, search_url, entities, entity_types, sources, langs, date_from, date_to, relevance,
         schedule, emails, webhook_url, webhook_format, webhook_secret, no_email):
    """Change a saved search (by id or name): only what is given changes."""
    archive = _archive()
    current = _find(archive, alert)
    q = current.query
    if search_url or query is not None or entities or entity_types or sources or langs or date_from or date_to \
            or relevance:
        if search_url:
            q = _query("", search_url, (), (), (), (), "", "", None)
        else:
            params = current.params
            changes = {"q": params.q if query is None else query}
            for field, given in (("entities", entities), ("entity_types", entity_types), ("sources", sources),
                                 ("langs", langs)):
                if given:
                    changes[field] = given
            if date_from:
                changes["date_from"] = date_from
            if date_to:
                changes["date_to"] = date_to
            if relevance:
                changes["relevance"] = relevance
            q = normalized_query(params.but(**changes))
    recipients = () if no_email else current.emails
    search = build(name=name or current.name, query=q, schedule=schedule or current.schedule,
                   emails=[*recipients, *emails],
                   webhook_url=current.webhook_url if webhook_url is None else webhook_url,
                   webhook_format=webhook_format or current.webhook_format,
                   webhook_secret=current.webhook_secret if webhook_secret is None else webhook_secret,
                   paused=current.paused, base=current)
    archive.save_search(search)
    click.echo(f"saved {search.id}: {search.name} — {search.schedule.describe()}")


@alerts.command("pause")
@click.argument("alert")
@click.option("--resume", is_flag=True, help="Deliver again (what matched meanwhile comes in the next digest).")
def pause(alert, resume):
    """Stop delivering a saved search (by id or name) until `pause --resume`."""
    from dataclasses import replace

    from dealwatch.dates import utcnow
    archive = _archive()
    current = _find(archive, alert)
    archive.save_search(replace(current, paused=not resume, updated_at=utcnow()))
    click.echo(f"{current.id}: {'resumed' if resume else 'paused'}")


@alerts.command("remove")
@click.argument("alert")
def remove(alert):
    """Delete a saved search (by id or name) with its delivery ledger and state."""
    archive = _archive()
    current = _find(archive, alert)
    archive.delete_saved_search(current.id)
    click.echo(f"removed {current.id}: {current.name}")


@alerts.command("run")
@click.argument("names", nargs=-1)
@click.option("--health", is_flag=True, help="Also send the new source-health problems to the admin address.")
def run(names, health):
    """Deliver now what is new for ALERTS (ids or names; default: every active one) — exactly once, as the
    scheduler does."""
    from alerts.health import run_health
    from alerts.runner import run_alert

    settings = get_settings()
    archive = _archive()
    chosen = [_find(archive, n) for n in names] if names else \
        [s for s in archive.saved_searches() if not s.paused and s.has_channel]
    failed = 0
    for search in chosen:
        outcome = run_alert(archive, settings, search.id)
        failed += outcome.status == "failed"
        click.echo(f"{search.id} {search.name}: {outcome.line()}")
    if health:
        outcome = run_health(archive, settings)
        failed += outcome.status == "failed"
        click.echo(f"source health: {outcome.line()}")
    if not chosen and not health:
        click.echo("no active saved search with a channel")
    if failed:
        raise SystemExit(1)


COMMANDS = [alerts]
