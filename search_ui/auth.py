"""Optional protection of the whole UI by one token: what a request may present and the session cookie.

With ``ui_token`` set, every request needs ``Authorization: Bearer <token>``, HTTP basic auth
with the token as password, ``?token=<token>``, or the session cookie a browser got after
``?token=``. The cookie holds an expiry time and an HMAC of it keyed by the token: it proves that
its holder knew the token without containing it, it ends after ``ui_session_days``, and changing
the token ends every session. Credentials are compared as bytes in constant time (a token may
hold any character). Static files are always served, and so is the unsubscribe page of alert
digests (:data:`OPEN_PATHS`: its signed link is the permission). The edge middleware
(``search_ui/edge.py``) asks these functions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

from starlette.requests import HTTPConnection

TOKEN_COOKIE = "dealwatch_session"
TOKEN_PARAM = "token"
# pages whose own signed link is the permission (a digest's unsubscribe link works without logging in)
OPEN_PATHS = ("/alerts/unsubscribe",)


def _header_bytes(value: str) -> bytes:
    """A header value as the bytes the client sent (Starlette decodes headers as latin-1)."""
    return value.encode("latin-1", errors="replace")


def presented_token(request: HTTPConnection) -> bytes | None:
    """The token a request presents (Bearer, basic-auth password or ``?token=``), as bytes; None if none."""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return _header_bytes(value.strip())
    if scheme.lower() == "basic":
        try:
            user_pass = base64.b64decode(value.strip(), validate=True)
        except (ValueError, binascii.Error):
            return None
        return user_pass.partition(b":")[2]
    given = request.query_params.get(TOKEN_PARAM)
    return given.encode("utf-8") if given is not None else None


def token_matches(given: bytes | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given, token.encode("utf-8"))


def session_cookie(token: str, days: float, now: float | None = None) -> tuple[str, int]:
    """A new session cookie's value and its lifetime in seconds."""
    max_age = max(1, int(days * 86400))
    expires = int(now if now is not None else time.time()) + max_age
    return f"{expires}.{_signature(token, expires)}", max_age


def valid_session(request: HTTPConnection, token: str, now: float | None = None) -> bool:
    """True when the request carries an unexpired session cookie signed with this token."""
    value = request.cookies.get(TOKEN_COOKIE, "")
    expires, _, signature = value.partition(".")
    if not expires.isdigit() or len(expires) > 12 or int(expires) < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(_header_bytes(signature), _signature(token, int(expires)).encode("ascii"))


def _signature(token: str, expires: int) -> str:
    return hmac.new(token.encode("utf-8"), f"dealwatch-ui-session:{expires}".encode("ascii"),
                    hashlib.sha256).hexdigest()
