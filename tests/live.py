"""Real servers for tests that need a real connection: the app under uvicorn, a TCP proxy that can be cut.

:func:`serve` runs a FastAPI app with uvicorn on a free loopback port in a thread (what a browser or
curl talks to: chunked transfers, closed connections). :class:`CuttingProxy` forwards a loopback port
to another (the app to Elasticsearch) and, after a given number of matching requests have gone
through, cuts every connection and stops listening: the network failing in the middle of an answer.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(app) -> Iterator[str]:
    """``app`` served by uvicorn on 127.0.0.1; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class CuttingProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; once ``cut_at`` requests whose first line contains
    ``marker`` have been seen, the one that makes ``cut_at`` is not forwarded: every connection is closed
    and the port stops listening (later connections are refused)."""

    def __init__(self, target_port: int, marker: bytes, cut_at: int):
        self.target_port = target_port
        self.marker = marker
        self.cut_at = cut_at
        self.seen = 0
        self.cut = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.cut.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, requests: bool) -> None:
        try:
            while not self.cut.is_set():
                data = src.recv(65536)
                if not data:
                    break
                if requests and self._counts(data):
                    self.close()
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def _counts(self, data: bytes) -> bool:
        """True when this chunk starts the request that is to be cut."""
        first_line = data.split(b"\r\n", 1)[0]
        if first_line.startswith(self.marker):
            with self._lock:
                self.seen += 1
                return self.seen >= self.cut_at
        return False

    def close(self) -> None:
        self.cut.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
