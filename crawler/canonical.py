"""Canonical URLs: one article, one address, one document id.

Every URL the crawler meets (from a feed, a sitemap, a section page, a page's own
``rel=canonical`` / ``og:url``) goes through :func:`canonicalize` before it is compared or
stored. The rules:

- tracking parameters are removed (``utm_*``, ``fbclid``, ``gclid``, ``mc_cid``, … see
  :data:`TRACKING_PARAMS`); the remaining query parameters are sorted (w3lib). The list names
  parameters exactly, with prefixes only where a whole family tracks (``utm_``): a parameter
  that merely looks like a tracker can be an article's number (``pk_no=1412361``), and
  stripping it would merge different articles into one document;
- the host is lower-cased, the default port and the fragment are dropped;
- ``http`` and ``https`` are unified: public host names get ``https``; IP-address and
  ``localhost`` hosts (which cannot carry a certificate, e.g. the offline demo sites) keep
  the scheme they were found with, since ``http://127.0.0.2/`` is the only working form;
- a trailing slash is removed from the path (``/a/b/`` and ``/a/b`` are one page), except
  for the root ``/``; ``index.html``-style defaults are kept (they can differ).

:func:`url_key` is the scheme-less form used as the key of the known-URL store, so an
``http`` and an ``https`` link to an IP host still count as one known page.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url, safe_url_string

# exact names (lower-case) and prefixes of query parameters that only track the reader
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "twclid", "ttclid",
    "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "ref_src", "ref_url", "oly_enc_id",
    "oly_anon_id", "vero_id", "vero_conv", "wt_mc", "wt.mc_id", "cmpid", "ocid", "sr_share", "s_cid",
    "icid", "ncid", "spm", "xtor", "ito", "__twitter_impression", "at_medium", "at_campaign",
    "at_custom1", "at_custom2", "at_custom3", "at_custom4", "at_source",
    # Matomo (formerly Piwik); its newer mtm_ family is a prefix below
    "pk_campaign", "pk_kwd", "pk_keyword", "pk_source", "pk_medium", "pk_content", "pk_cid", "pk_group",
    "pk_placement", "piwik_campaign", "piwik_kwd", "piwik_keyword",
})
TRACKING_PREFIXES = ("utm_", "ns_", "mtm_", "hsa_", "at_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_MULTI_SLASH = re.compile(r"/{2,}")


def _is_tracking(name: str) -> bool:
    n = name.lower()
    return n in TRACKING_PARAMS or n.startswith(TRACKING_PREFIXES)


def _is_ip_or_local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def canonicalize(url: str, base: str | None = None) -> str:
    """The canonical form of ``url`` (resolved against ``base`` when relative)."""
    url = (url or "").strip()
    if base:
        url = urljoin(base, url)
    url = safe_url_string(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url
    host = (parts.hostname or "").lower().rstrip(".")
    if not _is_ip_or_local(host):
        scheme = "https"
    port = parts.port
    netloc = host if ":" not in host else f"[{host}]"
    if port and port != _DEFAULT_PORTS.get(scheme) and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        netloc = f"{netloc}:{port}"
    path = _MULTI_SLASH.sub("/", parts.path or "/")
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)])
    return canonicalize_url(urlunsplit((scheme, netloc, path, query, "")), keep_fragments=False)


def url_key(url: str) -> str:
    """Scheme-less canonical form: the identity of a page in the known-URL store."""
    c = canonicalize(url)
    return c.split("://", 1)[1] if "://" in c else c


def domain_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()
