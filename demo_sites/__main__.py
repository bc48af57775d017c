"""Serve the demo sites by hand: ``python -m demo_sites --port 8080 --edition 1``.

Role in the data flow: the demo web as a process of its own (``dealwatch demo`` starts it as a
background service). It prints one line per site and serves until Ctrl-C or SIGTERM; with
``--write-sources FILE`` it first writes the demo's sources file for its port, ready for
``dealwatch crawl --sources-file FILE``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from typing import Iterable

from dealwatch.settings import get_settings
from demo_sites.server import EDITIONS, DemoSites
from demo_sites.sources_file import write_sources_file


def serve(port: int | None = None, edition: int = 1, demo_dir: Path | None = None,
          request_log: Path | None = None, stop: threading.Event | None = None) -> None:
    """Serve the demo sites until SIGINT/SIGTERM (or ``stop`` is set)."""
    stop = stop or threading.Event()
    demo = DemoSites(demo_dir, port=port, edition=edition, request_log=request_log).start()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    try:
        for s in demo.sites:
            print(f"{s.name:22} {s.base_url}  ({len(s.visible_articles(edition))} articles, edition {edition})",
                  flush=True)
        if demo.search_web is not None:
            web = demo.search_web
            print(f"{'search engine':22} {web.engine_url}/  (Bing News, Google News and Google Alerts formats; "
                  f"{len(web.publishers)} publishers on {web.publishers[0].host}–{web.publishers[-1].host})", flush=True)
        stop.wait()
    finally:
        demo.stop()


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo_sites", description="Serve the offline demo news sites.")
    parser.add_argument("--port", type=int, default=None,
                        help="port for every site (default: Settings.demo_port, 8080)")
    parser.add_argument("--edition", type=int, choices=EDITIONS, default=1,
                        help="2 adds new articles and one edited article")
    parser.add_argument("--demo-dir", type=Path, default=None, help="directory holding sites/ and sources.yaml")
    parser.add_argument("--request-log", type=Path, default=None,
                        help="append every request as a JSON line to this file")
    parser.add_argument("--write-sources", type=Path, default=None, metavar="FILE",
                        help="write the demo's sources YAML for this port to FILE (for dealwatch crawl --sources-file)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    port = args.port if args.port is not None else get_settings().demo_port
    if args.write_sources:
        print(f"sources: {write_sources_file(args.write_sources, port, args.demo_dir)}", flush=True)
    try:
        serve(port, args.edition, args.demo_dir, args.request_log)
    except OSError as exc:
        print(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
