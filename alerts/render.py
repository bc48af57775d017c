"""A digest as an e-mail (plain text + HTML) and as a webhook body (JSON, or Slack/Mattermost/Teams text).

Pure functions of the digest's frozen entries: rendering the same digest twice gives the same
message, with the same Message-ID for the same recipient, so a digest sent again after a crash
can be recognised and dropped by the receiver. The e-mail is built with Python's ``email``
package and its default policy, which encodes non-ASCII subjects and names (RFC 2047) and bodies
(UTF-8) as the standards ask.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from dealwatch.dates import parse_datetime
from dealwatch.settings import Settings
from indexer.deliveries import Digest

MESSAGE_DOMAIN = "dealwatch.invalid"


@dataclass(frozen=True)
class Audience:
    """Who a digest is for: an alert's name and channels (a saved search, or the admin of source health)."""

    alert_id: str
    name: str
    emails: tuple[str, ...] = ()
    webhook_url: str = ""
    webhook_format: str = "json"
    webhook_secret: str = ""
    query: str = ""                    # the search page's URL parameters (saved searches)
    kind: str = "articles"             # articles | source-health

    @property
    def targets(self) -> list[str]:
        return [*self.emails, *(["webhook"] if self.webhook_url else [])]


def message_id(digest: Digest, recipient: str) -> str:
    """The same for every attempt of one digest to one recipient (receivers drop the copies)."""
    who = hashlib.sha1(parseaddr(recipient)[1].lower().encode("utf-8")).hexdigest()[:12]
    return f"<{digest.digest_id}.{who}@{MESSAGE_DOMAIN}>"


def subject(audience: Audience, digest: Digest) -> str:
    n = len(digest.item_ids)
    if audience.kind == "source-health":
        return f"[DealWatch] source health: {n} problem{'s' if n != 1 else ''}"
    return f"[DealWatch] {audience.name}: {n} new article{'s' if n != 1 else ''}"


def _date(value: str | None) -> str:
    when = parse_datetime(value) if value else None
    return when.strftime("%Y-%m-%d") if when else "undated"


def _meta(entry: dict[str, Any]) -> str:
    parts = [entry.get("source") or "", _date(entry.get("published_at"))]
    if entry.get("relevance_score") is not None:
        parts.append(f"relevance {entry['relevance_score']:.2f}")
    return " · ".join(p for p in parts if p)


def text_body(audience: Audience, digest: Digest, settings: Settings, unsubscribe_url: str = "") -> str:
    lines = [subject(audience, digest).removeprefix("[DealWatch] "), ""]
    for i, e in enumerate(digest.entries, 1):
        lines.append(f"{i}. {e['title']}")
        if audience.kind == "source-health":
            lines.append(f"   {e['link']}")
            continue
        lines.append(f"   {_meta(e)}")
        if e.get("evidence"):
            lines.append(f"   “{e['evidence']}”")
        lines.append(f"   In the archive: {e['link']}")
        if e.get("url"):
            lines.append(f"   Original: {e['url']}")
        for other in e.get("also") or []:
            lines.append(f"   Also: {other['source']} — {other['title']} {other['link']}")
        lines.append("")
    if digest.more:
        lines += ["More matches wait for the next digest.", ""]
    lines.append("--")
    if audience.kind == "articles":
        lines.append(f"The search: {settings.public_url}/" + (f"?{audience.query}" if audience.query else ""))
        lines.append(f"Your alerts: {settings.public_url}/alerts")
    if unsubscribe_url:
        lines.append(f"Unsubscribe from this alert: {unsubscribe_url}")
    return "\n".join(lines) + "\n"


def html_body(audience: Audience, digest: Digest, settings: Settings, unsubscribe_url: str = "") -> str:
    esc = html.escape
    items = []
    for e in digest.entries:
        if audience.kind == "source-health":
            items.append(f'<li><a href="{esc(e["link"])}">{esc(e["title"])}</a></li>')
            continue
        parts = [f'<li><a href="{esc(e["link"])}"><strong>{esc(e["title"])}</strong></a><br>',
                 f'<small>{esc(_meta(e))}'
                 + (f' · <a href="{esc(e["url"])}">original</a>' if e.get("url") else "") + "</small>"]
        if e.get("evidence"):
            parts.append(f"<blockquote>{esc(e['evidence'])}</blockquote>")
        if e.get("also"):
            parts.append("<small>Also: " + ", ".join(
                f'<a href="{esc(o["link"])}">{esc(o["source"])} — {esc(o["title"])}</a>' for o in e["also"])
                + "</small>")
        items.append("".join(parts) + "</li>")
    foot = []
    if digest.more:
        foot.append("<p>More matches wait for the next digest.</p>")
    if audience.kind == "articles":
        search = f"{settings.public_url}/" + (f"?{audience.query}" if audience.query else "")
        foot.append(f'<p><small><a href="{esc(search)}">The search</a> · '
                    f'<a href="{esc(settings.public_url)}/alerts">your alerts</a>'
                    + (f' · <a href="{esc(unsubscribe_url)}">unsubscribe from this alert</a>' if unsubscribe_url
                       else "") + "</small></p>")
    title = esc(subject(audience, digest).removeprefix("[DealWatch] "))
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head><body>'
            f"<h2>{title}</h2><ol>{''.join(items)}</ol>{''.join(foot)}</body></html>")


def email_message(audience: Audience, digest: Digest, settings: Settings, recipient: str,
                  unsubscribe_url: str = "") -> EmailMessage:
    """The e-mail of a digest to one recipient: plain text and HTML, List-Unsubscribe, a stable Message-ID."""
    msg = EmailMessage()
    msg["Subject"] = subject(audience, digest)
    msg["From"] = settings.smtp_from
    msg["To"] = recipient
    msg["Date"] = format_datetime(digest.created_at)
    msg["Message-ID"] = message_id(digest, recipient)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-DealWatch-Digest"] = digest.digest_id
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text_body(audience, digest, settings, unsubscribe_url))
    msg.add_alternative(html_body(audience, digest, settings, unsubscribe_url), subtype="html")
    return msg


# --- webhooks ----------------------------------------------------------------------------

def _link(fmt: str, url: str, text: str) -> str:
    if fmt == "slack":
        return f"<{url}|{text.replace('|', '¦').replace('<', '‹').replace('>', '›')}>"
    return f"[{text.replace('[', '(').replace(']', ')')}]({url})"


def chat_text(audience: Audience, digest: Digest, settings: Settings, fmt: str) -> str:
    """The digest as one message of Slack mrkdwn (``slack``) or Markdown (``mattermost``, ``teams``)."""
    bold = "*" if fmt == "slack" else "**"
    lines = [f"{bold}{subject(audience, digest).removeprefix('[DealWatch] ')}{bold}"]
    for e in digest.entries:
        line = f"• {_link(fmt, e['link'], e['title'])}"
        if audience.kind == "articles":
            line += f" — {_meta(e)}"
            if e.get("evidence"):
                line += f"\n> {e['evidence']}"
            if e.get("also"):
                line += "\n  also: " + ", ".join(_link(fmt, o["link"], o["source"]) for o in e["also"])
        lines.append(line)
    if digest.more:
        lines.append("_More matches wait for the next digest._")
    return "\n".join(lines)


def webhook_body(audience: Audience, digest: Digest, settings: Settings) -> bytes:
    """The JSON POSTed for a digest in the audience's webhook format."""
    fmt = audience.webhook_format
    if fmt == "json":
        body: dict[str, Any] = {
            "type": "dealwatch.digest", "kind": audience.kind, "digest_id": digest.digest_id,
            "alert": {"id": audience.alert_id, "name": audience.name,
                      "search_url": f"{settings.public_url}/" + (f"?{audience.query}" if audience.query else "")},
            "created_at": digest.created_at.isoformat(), "count": len(digest.item_ids), "more": digest.more,
            "entries": digest.entries, "text": chat_text(audience, digest, settings, "mattermost"),
        }
    elif fmt == "teams":
        # an Office 365 connector card: incoming webhooks of Teams show its text (Markdown)
        text = chat_text(audience, digest, settings, fmt)
        body = {"@type": "MessageCard", "@context": "https://schema.org/extensions",
                "summary": subject(audience, digest), "text": text}
    else:
        body = {"text": chat_text(audience, digest, settings, fmt)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
