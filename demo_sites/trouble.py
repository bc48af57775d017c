"""The trouble cases: the deliberately bad answers of the trouble site (Night Wire).

Role in the data flow: the failures a crawler must count and survive. Each case is declared
under ``trouble_cases`` in the site's ``site.yaml`` (kind, path, title, what a crawler should
report) and answered here: 404, 500, a redirect loop, a PDF, an empty page, a page over the
crawler's size limit, a page that answers only after a delay. The malformed second feed
(``extra_feeds``) is here too.
"""

from __future__ import annotations

import functools
import time

from demo_sites.content import Site, TroubleCase
from demo_sites.loopback import Response
from demo_sites.render import HTML, render_not_found

BROKEN_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Night Wire — late edition
<item><title>Unclosed & unescaped <b>item</title><link>http://example.invalid/</link>
<item><title>Another</item></channel>
"""

# A tiny but real PDF document (the "annual report" of the trouble site).
PDF_BYTES = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
             b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
EMPTY_PAGE = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title></title></head><body></body></html>\n"
OVERSIZED_BYTES = 6 * 1024 * 1024 + 512 * 1024   # over the crawler's 5 MB default limit
SERVER_ERROR_PAGE = (b"<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head><body>"
                     b"<h1>Internal Server Error</h1><p>The story database did not answer.</p></body></html>")


@functools.cache
def oversized_page() -> bytes:
    """About 6.5 MB of real article markup (built once, on first request)."""
    head = b'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Complete transcript of the marathon hearing</title></head><body><article><h1>Complete transcript of the marathon hearing</h1>'
    line = b"<p>The committee heard another hour of testimony about card fees, interchange and the settlement of payments between banks.</p>\n"
    body = line * (OVERSIZED_BYTES // len(line) + 1)
    return head + body + b"</article></body></html>\n"


def case_at(site: Site, path: str) -> TroubleCase | None:
    """The trouble case served at ``path`` (with or without its trailing slash), if any."""
    for case in site.trouble_cases:
        if path.rstrip("/") == case.path.rstrip("/"):
            return case
    return None


def answer(site: Site, case: TroubleCase, slow_seconds: float) -> Response:
    """What the server answers at a trouble case's path."""
    kind = case.kind
    if kind == "not_found":
        return Response(404, HTML, render_not_found(site).encode())
    if kind == "server_error":
        return Response(500, HTML, SERVER_ERROR_PAGE)
    if kind == "redirect_loop":
        # Every case of this kind redirects to the next one of its kind: A -> B -> A.
        loop = [c for c in site.trouble_cases if c.kind == "redirect_loop"]
        target = loop[(loop.index(case) + 1) % len(loop)]
        return Response(302, HTML, b"", {"Location": site.url(target.path)})
    if kind == "binary":
        return Response(200, "application/pdf", PDF_BYTES)
    if kind == "empty":
        return Response(200, HTML, EMPTY_PAGE.encode())
    if kind == "oversized":
        return Response(200, HTML, oversized_page())
    if kind == "slow":
        time.sleep(slow_seconds)
        return Response(200, HTML, render_not_found(site).encode())
    raise ValueError(f"unknown trouble case kind {kind!r} in {site.name}/site.yaml")
