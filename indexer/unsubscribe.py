"""Signed unsubscribe tokens: who may leave which alert, without logging in.

A digest's unsubscribe link carries ``token = base64url(alert id, recipient) . HMAC-SHA256``,
signed with the archive's secret (:meth:`indexer.archive.Archive.signing_secret`). The alert
runner signs (``alerts/``); the web UI verifies (``search_ui``), so the helper lives here, below
both. Pure: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from indexer.errors import BadQuery


class BadToken(BadQuery):
    """A link that was not made by this archive, or was changed on the way."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode("utf-8"), b"unsubscribe:" + payload.encode("ascii"), hashlib.sha256).digest())


def sign(secret: str, alert_id: str, recipient: str) -> str:
    payload = _b64(json.dumps([alert_id, recipient], ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: str, token: str) -> tuple[str, str]:
    """(alert id, recipient) of a token signed with ``secret``; BadToken otherwise."""
    payload, _, mac = (token or "").strip().partition(".")
    try:
        ok = bool(payload and mac) and hmac.compare_digest(mac, _mac(secret, payload))
        alert_id, recipient = json.loads(_unb64(payload).decode("utf-8")) if ok else ("", "")
    except (ValueError, UnicodeError, TypeError):
        ok = False
    if not ok or not isinstance(alert_id, str) or not isinstance(recipient, str):
        raise BadToken("This unsubscribe link is not valid (it may have been cut or changed): open the link from "
                       "the e-mail again, or ask whoever manages the alerts.")
    return alert_id, recipient
