"""Saved searches and alerts in the web UI and the JSON API; the unsubscribe page of digests.

Pages: ``/alerts`` (every saved search with its last delivery, next run, last error and next
attempt; pause, edit, delete), ``/alerts/new?<search>`` (the form the results page's "Save search /
alert me" opens, holding that search), ``/alerts/{id}/edit``, and ``/alerts/unsubscribe?token=``
(works without the UI token: the link's signature is the permission; GET asks, POST — also RFC 8058
one-click — does it). API: ``/api/alerts`` (list, create), ``/api/alerts/{id}`` (read, change,
delete), in the OpenAPI document. Everything goes through :class:`indexer.archive.Archive`; input
is checked by :func:`indexer.saved_searches.build`, whose messages a 400 carries.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from dealwatch.dates import utcnow
from indexer.errors import BadQuery
from indexer.query import SearchParams
from indexer.saved_searches import DAYS, WEBHOOK_FORMATS, InvalidSavedSearch, SavedSearch, build
from search_ui.dependencies import ArchiveDep, TemplatesDep
from search_ui.errors import NotFound

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/alerts", tags=["alerts"])

UNSUBSCRIBE_PATH = "/alerts/unsubscribe"      # open without the UI token (search_ui/auth.py)


def _search_or_404(archive, alert_id: str) -> SavedSearch:
    found = archive.saved_search(alert_id)
    if found is None:
        raise NotFound(f"No saved search with id {alert_id!r}.")
    return found


def _rows(archive) -> list[dict[str, Any]]:
    states = archive.alert_states()
    now = utcnow()
    rows = []
    for s in archive.saved_searches():
        st = states.get(s.id)
        planned = st.next_run_at if st and st.next_run_at and st.next_run_at > now else s.schedule.next_after(now)
        rows.append({"s": s, "state": st, "next_run": planned, "summary": _summary(s.params),
                     "search_url": "/" + (f"?{s.query}" if s.query else "")})
    return rows


def _summary(params: SearchParams) -> str:
    bits = [f"“{params.q}”" if params.q else "every article"]
    for label, values in (("entity", params.entities), ("type", params.entity_types), ("source", params.sources),
                          ("lang", params.langs)):
        if values:
            bits.append(f"{label} {', '.join(values)}")
    if params.date_from or params.date_to:
        bits.append(f"{params.date_from or '…'} – {params.date_to or '…'}")
    bits.append({"relevant": "relevant", "possible": "possibly relevant", "all": "all bands"}[params.relevance])
    return " · ".join(bits)


# --- pages ------------------------------------------------------------------------------

@pages.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, archive: ArchiveDep, templates: TemplatesDep):
    return templates.TemplateResponse(request, "alerts.html", {"rows": _rows(archive)})


def _form_values(search: SavedSearch | None, query: str = "", name: str = "") -> dict[str, Any]:
    if search is None:
        return {"name": name, "query": query, "kind": "daily", "time": "08:00", "day": "mon", "tz": "Europe/Warsaw",
                "emails": "", "webhook_url": "", "webhook_format": "json", "webhook_secret": "", "paused": False}
    sc = search.schedule
    return {"name": search.name, "query": search.query, "kind": sc.kind, "time": f"{sc.hour:02d}:{sc.minute:02d}",
            "day": sc.day, "tz": sc.tz, "emails": ", ".join(search.emails), "webhook_url": search.webhook_url,
            "webhook_format": search.webhook_format, "webhook_secret": "", "paused": search.paused}


def _form(request, templates, values, *, action: str, search: SavedSearch | None = None, error: str = "",
          status: int = 200):
    try:
        summary = _summary(SearchParams.from_url([(k, v) for k, v in _pairs(values["query"])]))
    except BadQuery:
        summary = ""
    return templates.TemplateResponse(request, "alert_form.html", {
        "v": values, "action": action, "search": search, "error": error, "summary": summary, "days": DAYS,
        "formats": WEBHOOK_FORMATS}, status_code=status)


def _pairs(query: str):
    from urllib.parse import parse_qsl
    return parse_qsl(query or "")


@pages.get("/alerts/new", response_class=HTMLResponse)
def new_alert_page(request: Request, templates: TemplatesDep):
    """The form, holding the search of the results page it came from (its URL parameters)."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "size", "token")]
    query = urlencode(items)
    name = request.query_params.get("q", "") or "All relevant articles"
    return _form(request, templates, _form_values(None, query=query, name=name[:120]), action="/alerts")


def _schedule_text(kind: str, time: str, day: str, tz: str) -> str:
    kind = (kind or "").strip()
    if kind in ("after-crawl", "hourly"):
        return kind
    if kind == "weekly":
        return f"weekly {day} {time} {tz or 'UTC'}"
    return f"{kind} {time} {tz or 'UTC'}"


def _from_form(base: SavedSearch | None, name, query, kind, time, day, tz, emails, webhook_url, webhook_format,
               webhook_secret, paused) -> SavedSearch:
    secret = webhook_secret if webhook_secret or base is None else base.webhook_secret
    if not webhook_url:
        secret = ""
    return build(name=name, query=query, schedule=_schedule_text(kind, time, day, tz), emails=emails,
                 webhook_url=webhook_url, webhook_format=webhook_format, webhook_secret=secret,
                 paused=bool(paused), base=base)


@pages.post("/alerts", response_class=HTMLResponse)
def create_alert(request: Request, archive: ArchiveDep, templates: TemplatesDep, name: str = Form(""),
                 query: str = Form(""), kind: str = Form("daily"), time: str = Form("08:00"), day: str = Form("mon"),
                 tz: str = Form("UTC"), emails: str = Form(""), webhook_url: str = Form(""),
                 webhook_format: str = Form("json"), webhook_secret: str = Form(""), paused: str = Form("")):
    values = dict(name=name, query=query, kind=kind, time=time, day=day, tz=tz, emails=emails,
                  webhook_url=webhook_url, webhook_format=webhook_format, webhook_secret="", paused=bool(paused))
    try:
        search = _from_form(None, name, query, kind, time, day, tz, emails, webhook_url, webhook_format,
                            webhook_secret, paused)
    except InvalidSavedSearch as exc:
        return _form(request, templates, values, action="/alerts", error=str(exc), status=400)
    archive.ensure_alerts()
    archive.save_search(search)
    return RedirectResponse(f"/alerts?saved={search.id}", status_code=303)


@pages.get("/alerts/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(request: Request, archive: ArchiveDep, templates: TemplatesDep, token: str = ""):
    search, recipient = archive.check_unsubscribe(token)
    return templates.TemplateResponse(request, "unsubscribe.html", {
        "search": search, "recipient": recipient, "token": token, "done": False,
        "subscribed": search is not None and recipient in search.emails})


@pages.post("/alerts/unsubscribe", response_class=HTMLResponse)
def unsubscribe(request: Request, archive: ArchiveDep, templates: TemplatesDep, token: str = ""):
    search, recipient = archive.unsubscribe(token)
    return templates.TemplateResponse(request, "unsubscribe.html", {
        "search": search, "recipient": recipient, "token": token, "done": True, "subscribed": False})


@pages.get("/alerts/{alert_id}/edit", response_class=HTMLResponse)
def edit_alert_page(request: Request, alert_id: str, archive: ArchiveDep, templates: TemplatesDep):
    search = _search_or_404(archive, alert_id)
    return _form(request, templates, _form_values(search), action=f"/alerts/{search.id}", search=search)


@pages.post("/alerts/{alert_id}", response_class=HTMLResponse)
def update_alert(request: Request, alert_id: str, archive: ArchiveDep, templates: TemplatesDep,
                 name: str = Form(""), query: str = Form(""), kind: str = Form("daily"), time: str = Form("08:00"),
                 day: str = Form("mon"), tz: str = Form("UTC"), emails: str = Form(""), webhook_url: str = Form(""),
                 webhook_format: str = Form("json"), webhook_secret: str = Form(""), paused: str = Form("")):
    base = _search_or_404(archive, alert_id)
    values = dict(name=name, query=query, kind=kind, time=time, day=day, tz=tz, emails=emails,
                  webhook_url=webhook_url, webhook_format=webhook_format, webhook_secret="", paused=bool(paused))
    try:
        search = _from_form(base, name, query, kind, time, day, tz, emails, webhook_url, webhook_format,
                            webhook_secret, paused)
    except InvalidSavedSearch as exc:
        return _form(request, templates, values, action=f"/alerts/{base.id}", search=base, error=str(exc),
                     status=400)
    archive.save_search(search)
    return RedirectResponse(f"/alerts?saved={search.id}", status_code=303)


@pages.post("/alerts/{alert_id}/pause")
def pause_alert(alert_id: str, archive: ArchiveDep):
    search = _search_or_404(archive, alert_id)
    archive.save_search(replace(search, paused=not search.paused, updated_at=utcnow()))
    return RedirectResponse("/alerts", status_code=303)


@pages.post("/alerts/{alert_id}/delete")
def delete_alert(alert_id: str, archive: ArchiveDep):
    _search_or_404(archive, alert_id)
    archive.delete_saved_search(alert_id)
    return RedirectResponse("/alerts", status_code=303)


# --- the JSON API -------------------------------------------------------------------------

class AlertIn(BaseModel):
    name: str = Field(description="What the alert is called (in subjects and lists)")
    query: str = Field("", description="The search as the search page's URL parameters, e.g. "
                                       "q=facebook%20bank&lang=en (or a whole search page URL)")
    schedule: str = Field("daily 08:00 UTC", description="after-crawl | hourly | daily HH:MM [TZ] | weekly DAY HH:MM [TZ]")
    emails: list[str] = Field([], description="Recipients: name@example.org or \"Name <name@example.org>\"")
    webhook_url: str = Field("", description="A URL each digest is POSTed to")
    webhook_format: str = Field("json", description="json | slack | mattermost | teams")
    webhook_secret: str = Field("", description="When set, each POST carries X-DealWatch-Signature-256: "
                                                "sha256=<HMAC-SHA256 of the body>")
    paused: bool = False


class AlertChange(BaseModel):
    name: str | None = None
    query: str | None = None
    schedule: str | None = None
    emails: list[str] | None = None
    webhook_url: str | None = None
    webhook_format: str | None = None
    webhook_secret: str | None = None
    paused: bool | None = None


class AlertStateOut(BaseModel):
    last_run_at: str | None = None
    last_delivery_at: str | None = Field(None, description="When a digest was last acknowledged by every target")
    last_delivered: int = 0
    delivered_total: int = Field(0, description="Articles delivered so far (the ledger)")
    last_error: str = ""
    last_error_at: str | None = None
    failures: int = Field(0, description="Consecutive failed attempts")
    next_attempt_at: str | None = Field(None, description="When a failed delivery is tried again")
    next_run_at: str | None = Field(None, description="The scheduler's next run of a timed alert")


class AlertOut(BaseModel):
    id: str
    name: str
    query: str
    schedule: str
    schedule_text: str
    emails: list[str]
    webhook_url: str
    webhook_format: str
    webhook_signed: bool = Field(description="A webhook secret is set (it is never shown)")
    paused: bool
    since: str | None = Field(description="Matches crawled or changed from then on are new to this alert")
    created_at: str | None
    updated_at: str | None
    state: AlertStateOut | None = None


class AlertsOut(BaseModel):
    alerts: list[AlertOut]


def _out(archive, search: SavedSearch) -> dict[str, Any]:
    state = archive.alert_state(search.id)
    return {**search.public(), "state": state.as_dict()}


@api.get("", summary="Saved searches with their delivery state", response_model=AlertsOut)
def api_list(archive: ArchiveDep):
    states = archive.alert_states()
    return {"alerts": [{**s.public(), "state": states[s.id].as_dict() if s.id in states else None}
                       for s in archive.saved_searches()]}


@api.post("", summary="Save a search as an alert", response_model=AlertOut, status_code=201)
def api_create(body: AlertIn, archive: ArchiveDep):
    search = build(**body.model_dump())
    archive.ensure_alerts()
    archive.save_search(search)
    return _out(archive, search)


@api.get("/{alert_id}", summary="One saved search with its delivery state", response_model=AlertOut)
def api_get(alert_id: str, archive: ArchiveDep):
    return _out(archive, _search_or_404(archive, alert_id))


@api.patch("/{alert_id}", summary="Change a saved search (only the fields given)", response_model=AlertOut)
def api_change(alert_id: str, body: AlertChange, archive: ArchiveDep):
    base = _search_or_404(archive, alert_id)
    given = body.model_dump(exclude_none=True)
    fields = dict(name=base.name, query=base.query, schedule=base.schedule, emails=list(base.emails),
                  webhook_url=base.webhook_url, webhook_format=base.webhook_format,
                  webhook_secret=base.webhook_secret, paused=base.paused)
    fields.update(given)
    search = build(**fields, base=base)
    archive.save_search(search)
    return _out(archive, search)


@api.delete("/{alert_id}", summary="Delete a saved search with its ledger and state", status_code=204)
def api_delete(alert_id: str, archive: ArchiveDep):
    _search_or_404(archive, alert_id)
    archive.delete_saved_search(alert_id)
