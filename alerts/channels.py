"""Delivery channels: an SMTP server, an mbox file, a webhook. Each returns only once acknowledged.

* SMTP (``smtp_*`` settings): STARTTLS, TLS from the first byte, or plain on a trusted network;
  login when a user is set. Acknowledged = the server answered 250 to the message's DATA.
* A mailbox file (``alerts_mailbox``): the message appended to an mbox file and flushed to disk —
  the offline demo's "mail server".
* A webhook: a POST of the JSON body; acknowledged = a 2xx answer within ``webhook_timeout``. It
  carries ``Idempotency-Key`` (the digest id, the same on every attempt) and, when the alert has a
  secret, ``X-DealWatch-Signature-256: sha256=<HMAC-SHA256 of the body>``.

Every failure raises :class:`DeliveryFailed` with a sentence a person can act on; whether the
server said no for now (4xx SMTP, 5xx/429 HTTP, timeouts) or for good is in ``temporary``. The
runner retries both with backoff: a refusal "for good" is often fixed by a person meanwhile.
"""

from __future__ import annotations

import hashlib
import hmac
import mailbox
import os
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import parseaddr

import httpx

from dealwatch.settings import Settings

SIGNATURE_HEADER = "X-DealWatch-Signature-256"
USER_AGENT = "DealWatch-Alerts/0.1"


class DeliveryFailed(Exception):
    def __init__(self, message: str, temporary: bool = True):
        super().__init__(message)
        self.temporary = temporary


def email_configured(settings: Settings) -> bool:
    return bool(settings.alerts_mailbox or settings.smtp_host)


def send_email(settings: Settings, message: EmailMessage, recipient: str) -> str:
    """Deliver ``message`` to one recipient; what acknowledged it. DeliveryFailed otherwise."""
    if settings.alerts_mailbox:
        return _to_mailbox(settings, message)
    if not settings.smtp_host:
        raise DeliveryFailed("e-mail is not set up: set DEALWATCH_SMTP_HOST (and DEALWATCH_SMTP_PORT, "
                             "DEALWATCH_SMTP_USER, …) or DEALWATCH_ALERTS_MAILBOX for a local mailbox file.")
    return _to_smtp(settings, message, parseaddr(recipient)[1])


def _to_mailbox(settings: Settings, message: EmailMessage) -> str:
    path = settings.alerts_mailbox
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        box = mailbox.mbox(str(path))
        box.lock()
        try:
            box.add(message)
            box.flush()
        finally:
            box.unlock()
            box.close()
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    except (OSError, mailbox.Error) as exc:
        raise DeliveryFailed(f"could not write the mailbox file {path}: {exc}") from exc
    return f"appended to {path}"


def _to_smtp(settings: Settings, message: EmailMessage, address: str) -> str:
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    sender = parseaddr(settings.smtp_from)[1]
    try:
        if settings.smtp_security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port,
                                                  timeout=settings.smtp_timeout,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
        with smtp:
            smtp.ehlo()
            if settings.smtp_security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryFailed(f"the SMTP server {where} does not offer STARTTLS: use DEALWATCH_SMTP_SECURITY=tls "
                                         "with its TLS port, or none on a trusted network.", temporary=False)
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message, from_addr=sender, to_addrs=[address])
            return f"accepted by {where}"
    except DeliveryFailed:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()), (0, b""))
        raise _refused(where, f"the recipient {address}", code, text) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryFailed(f"the SMTP server {where} refused the login of DEALWATCH_SMTP_USER "
                             f"({exc.smtp_code}): check the user and DEALWATCH_SMTP_PASSWORD.", temporary=False) from exc
    except smtplib.SMTPResponseException as exc:
        raise _refused(where, "the message", exc.smtp_code, exc.smtp_error) from exc
    except smtplib.SMTPServerDisconnected as exc:
        raise DeliveryFailed(f"the SMTP server {where} closed the connection: {exc}") from exc
    except (socket.timeout, TimeoutError) as exc:
        raise DeliveryFailed(f"the SMTP server {where} did not answer within {settings.smtp_timeout:g} s.") from exc
    except ssl.SSLError as exc:
        raise DeliveryFailed(f"TLS with the SMTP server {where} failed: {exc.reason or exc}.", temporary=False) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"the SMTP server {where} could not be reached: {exc}") from exc


def _refused(where: str, what: str, code: int, text: bytes | str) -> DeliveryFailed:
    reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    temporary = 400 <= int(code) < 500
    how = "refused for now" if temporary else "refused"
    return DeliveryFailed(f"the SMTP server {where} {how} {what}: {code} {reply.strip()}", temporary=temporary)


def post_webhook(settings: Settings, url: str, body: bytes, idempotency_key: str, secret: str = "") -> str:
    """POST ``body`` (JSON) to ``url``; what acknowledged it. DeliveryFailed otherwise."""
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
               "Idempotency-Key": idempotency_key, "X-DealWatch-Digest": idempotency_key}
    if secret:
        mac = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADER] = f"sha256={mac}"
    parsed = httpx.URL(url)
    shown = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}/…"   # the path of a chat webhook is its secret
    try:
        resp = httpx.post(url, content=body, headers=headers, timeout=settings.webhook_timeout,
                          follow_redirects=False)
    except httpx.TimeoutException as exc:
        raise DeliveryFailed(f"the webhook {shown} did not answer within {settings.webhook_timeout:g} s.") from exc
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"the webhook {shown} could not be reached: {type(exc).__name__}: {exc}") from exc
    if 200 <= resp.status_code < 300:
        return f"webhook answered {resp.status_code}"
    temporary = resp.status_code >= 500 or resp.status_code in (408, 425, 429)
    raise DeliveryFailed(f"the webhook {shown} answered HTTP {resp.status_code}: {resp.text[:200].strip()}",
                         temporary=temporary)


def webhook_signature(secret: str, body: bytes) -> str:
    """What a receiver compares :data:`SIGNATURE_HEADER` with."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
