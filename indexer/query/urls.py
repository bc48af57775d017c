"""The addresses a pasted URL may be stored under, for the query language's URL terms.

The crawler stores each article's ``url`` (as fetched) and ``canonical_url`` (its own canonical
form: https for public hosts, lower-case host, no default port, no fragment, no trailing slash,
no tracking parameters, sorted query). The indexer does not import the crawler, so instead of
canonicalising the same way it lists the forms a person's copy of the address may differ in —
scheme, ``www.``-less paste, trailing slash, host case, fragment, tracking parameters, query
order — and a search matches any of them in either field. Pure functions (w3lib for the query
order and percent-encoding, as the crawler uses).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

_DEFAULT_PORTS = {"http": 80, "https": 443}
# query parameters that only track the reader (the common ones; the crawler's list is longer)
_TRACKING = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "_ga", "_gl", "igshid", "msclkid", "ocid")


def _tracking(name: str) -> bool:
    n = name.lower()
    return n.startswith(_TRACKING[0]) or n in _TRACKING[1:]


def url_variants(url: str) -> list[str]:
    """The spellings of ``url`` an archive may hold: as typed, and each combination of http/https,
    with/without the trailing slash, with the query as typed / cleaned of tracking parameters /
    in canonical order. Host lower-cased, fragment and default port dropped. At most a few dozen."""
    typed = url.strip()
    if not typed:
        return []
    text = typed if "://" in typed else "https://" + typed.lstrip("/")
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:  # not an address after all (a bad port, an unclosed IPv6 bracket)
        return [typed]
    if not host:
        return [typed]
    netloc = host if ":" not in host else f"[{host}]"
    if port and port not in _DEFAULT_PORTS.values():
        netloc = f"{netloc}:{port}"
    path = parts.path or "/"
    paths = {path, path.rstrip("/") or "/", path if path.endswith("/") else path + "/"}
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    queries = {parts.query, urlencode([(k, v) for k, v in pairs if not _tracking(k)])}
    out = [typed]
    for scheme in ("https", "http"):
        for p in sorted(paths):
            for query in sorted(queries):
                plain = urlunsplit((scheme, netloc, p, query, ""))
                out += [plain, canonicalize_url(plain)]
                if p == "/" and not query:
                    out.append(f"{scheme}://{netloc}")  # the root without its slash
    return list(dict.fromkeys(out))


def url_prefixes(url: str) -> list[str]:
    """The starts of addresses under ``url`` (``url:https://example.com/2018*``): both schemes."""
    typed = url.strip()
    rest = typed.split("://", 1)[1] if "://" in typed else typed.lstrip("/")
    if not rest:
        return []
    host, slash, path = rest.partition("/")
    rest = host.lower() + slash + path
    return list(dict.fromkeys([typed, f"https://{rest}", f"http://{rest}"]))
