"""A stand-in for Google's two Google News decoder endpoints, reached through a proxy on loopback.

Role in the data flow: newer Google News links (opaque ``AU_yqL…`` ids) are resolved by the
``googlenewsdecoder`` package, which asks ``https://news.google.com`` twice per link: the
article page (for a signature and a timestamp in ``data-n-a-sg`` / ``data-n-a-ts``) and the
``/_/DotsSplashUi/data/batchexecute`` POST that answers with the publisher URL. Offline, a
source's ``proxy`` setting leads there: :class:`GoogleStandin` is an HTTP proxy that

- forwards plain ``http://`` requests to the loopback hosts they name (the source's other
  requests: feeds, publishers' pages), and
- answers ``CONNECT news.google.com:443`` itself, with TLS under a certificate signed by a
  certificate authority made for the occasion (:func:`make_certificates`; the crawl process
  trusts it through ``SSL_CERT_FILE``), playing Google's two endpoints for the ids it is given.

Nothing in the decoder or the crawler is patched: the proxy is configuration, like a company
proxy would be.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

GOOGLE_HOST = "news.google.com"
_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
        "proxy-authorization", "proxy-authenticate"}


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A certificate authority and a ``news.google.com`` certificate it signed: (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DealWatch test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, GOOGLE_HOST)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(GOOGLE_HOST)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


def signature_page(article_id: str, known: bool) -> bytes:
    """Google's article page as the decoder reads it: the signature and timestamp of a known id."""
    attrs = f' data-n-a-sg="sig-{abs(hash(article_id)) % 10**9}" data-n-a-ts="1767225600"' if known else ""
    return (f'<!doctype html><html><head><title>Google News</title></head><body><c-wiz>'
            f'<div jscontroller="aLI87"{attrs} data-n-a-id="{article_id}"></div></c-wiz></body></html>').encode()


def batchexecute_answer(body: str, ids: dict[str, str]) -> bytes:
    """The ``batchexecute`` answer: for each ``garturlreq`` envelope, the publisher URL of its id."""
    freq = parse_qs(body).get("f.req", [""])[0]
    envelopes = json.loads(freq)[0]
    rows = []
    for env in envelopes:
        inner = json.loads(env[1])
        url = ids.get(inner[2])
        if url:
            rows.append(["wrb.fr", "Fbv4je", json.dumps(["garturlres", url, 1]), None, None, None, env[3]])
    rows.append(["di", 42])
    return (")]}'\n\n" + json.dumps(rows)).encode()


class _GoogleHandler(BaseHTTPRequestHandler):
    """news.google.com, inside the TLS tunnel."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - http.server's name
        standin: GoogleStandin = self.server.standin
        path = urlsplit(self.path).path
        standin.record("google", "GET", path)
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 3 and parts[-2] == "articles":
            art = unquote(parts[-1])
            self._send(200, signature_page(art, art in standin.ids))
        else:
            self._send(404, b"<html><body>Not found</body></html>")

    def do_POST(self):  # noqa: N802 - http.server's name
        standin: GoogleStandin = self.server.standin
        path = urlsplit(self.path).path
        standin.record("google", "POST", path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if path.endswith("/DotsSplashUi/data/batchexecute"):
            self._send(200, batchexecute_answer(body, standin.ids), "application/json; charset=utf-8")
        else:
            self._send(404, b"<html><body>Not found</body></html>")


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_CONNECT(self):  # noqa: N802 - http.server's name
        standin: GoogleStandin = self.server.standin
        host = self.path.split(":")[0].lower()
        standin.record("proxy", "CONNECT", self.path)
        if host != GOOGLE_HOST:
            self.send_error(502, "this proxy only tunnels to news.google.com")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        try:
            tls = standin.tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            self.close_connection = True
            return
        _GoogleHandler(tls, self.client_address, self.server)
        self.close_connection = True

    def _forward(self, method: str) -> None:
        standin: GoogleStandin = self.server.standin
        target = urlsplit(self.path)
        standin.record("proxy", method, self.path)
        if target.scheme != "http" or not target.hostname:
            self.send_error(400, "an absolute http:// URL is expected")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
        try:
            path = target.path or "/"
            conn.request(method, path + (f"?{target.query}" if target.query else ""), body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as exc:
            self.send_error(502, f"upstream: {exc}")
            return
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in _HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's name
        self._forward("GET")

    def do_HEAD(self):  # noqa: N802 - http.server's name
        self._forward("HEAD")

    def do_POST(self):  # noqa: N802 - http.server's name
        self._forward("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class GoogleStandin:
    """The proxy on ``host:port`` (see the module docstring). ``ids``: new Google News id -> URL.
    ``requests`` lists ``(where, method, path)``: ``proxy`` for what it forwarded or tunnelled,
    ``google`` for what the decoder asked inside the tunnel."""

    def __init__(self, host: str, port: int, ids: dict[str, str], cert_dir: Path):
        self.host, self.port, self.ids = host, port, dict(ids)
        self.ca_file, cert, key = make_certificates(cert_dir)
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        self.requests: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def record(self, where: str, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((where, method, path))

    def start(self) -> "GoogleStandin":
        self._server = _Server((self.host, self.port), _ProxyHandler)
        self._server.standin = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="google-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "GoogleStandin":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
