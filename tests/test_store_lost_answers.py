"""A bulk write whose answer is lost on the way back (a node dies after applying it, a connection is
reset) is resent by the client; the resend meets the documents it already wrote. Those articles were
new (or updated) in this write, and the write must say so - not "unchanged".

The fault is real: a small HTTP proxy on loopback sits between the client and the node, forwards
every request, and for the first bulk request drops the connection instead of passing the node's
answer back, as a dying node or a broken network does."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from indexer import schema, store
from indexer.client import make_client
from test_store import make_article


class AnswerDroppingProxy:
    """Forwards to ``target``; the ``nth`` request to ``/_bulk`` is applied but never answered."""

    def __init__(self, target: str, nth: int = 1):
        self.target = urlsplit(target)
        self.nth = nth
        self.bulks = 0
        self.dropped = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                conn = http.client.HTTPConnection(owner.target.hostname, owner.target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                if "/_bulk" in self.path:
                    owner.bulks += 1
                if "/_bulk" in self.path and owner.bulks == owner.nth:
                    owner.dropped += 1            # applied by the node, answer lost
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


def test_new_articles_whose_bulk_answer_was_lost_are_counted_new(es, fresh_index):
    s = fresh_index
    docs = [schema.article_to_document(make_article(n)) for n in range(1, 6)]
    with AnswerDroppingProxy(s.effective_es_url) as proxy:
        through = s.replace(es_url=proxy.url)
        result = store.write_documents(make_client(through), through, docs, refresh=True)
        assert proxy.dropped == 1, "the fault happened"
    assert (result.new, result.unchanged, result.updated, result.failed) == (5, 0, 0, 0)
    assert store.count(es, s) == 5


def test_a_new_version_whose_bulk_answer_was_lost_is_counted_updated(es, fresh_index):
    s = fresh_index
    store.write_documents(es, s, [schema.article_to_document(make_article(1))], refresh=True)
    changed = schema.article_to_document(make_article(1, text="Facebook asked four banks for card data."))
    # the first bulk keeps the old text in the versions index, the second writes the new version
    with AnswerDroppingProxy(s.effective_es_url, nth=2) as proxy:
        through = s.replace(es_url=proxy.url)
        result = store.write_documents(make_client(through), through, [changed], refresh=True)
        assert proxy.dropped == 1
    assert (result.new, result.updated, result.unchanged, result.failed) == (0, 1, 0, 0)
    assert es.get(index=s.articles_alias, id=changed["id"])["_source"]["version"] == 2


def test_an_article_another_writer_stored_first_is_still_unchanged(es, fresh_index):
    """The same text written by someone else (another crawl, another time stamp) is not ours."""
    s = fresh_index
    store.write_documents(es, s, [schema.article_to_document(make_article(1))], refresh=True)
    again = store.write_documents(es, s, [schema.article_to_document(make_article(1))], refresh=True)
    assert (again.new, again.unchanged) == (0, 1)
