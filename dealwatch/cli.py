"""The `dealwatch` command line: one group, its subcommands wired here, read top to bottom.

Each package keeps its commands next to its code in its own ``cli.py``; this module adds them
to the group explicitly, sets up logging, and turns the expected failures into one clear line
and an exit code (the only place that does): settings that cannot work (2), an archive that
cannot answer (2), a local node that cannot start (2).
"""

from __future__ import annotations

import logging
import sys

import click

from dealwatch.settings import SettingsError, get_settings
from indexer.errors import ArchiveError, BadQuery
from indexer.node import NodeError

EXIT_USAGE = 2


class FriendlyGroup(click.Group):
    """Shows expected failures (a bad setting, missing Java, unreachable cluster, bad query) without a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (SettingsError, NodeError, ArchiveError) as exc:
            prefix = "bad query" if isinstance(exc, BadQuery) else "error"
            click.secho(f"{prefix}: {exc}", fg="red", err=True)
            sys.exit(EXIT_USAGE)


@click.group(cls=FriendlyGroup)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """DealWatch: crawl the press, archive articles, search and export them."""
    level = logging.WARNING - 10 * min(verbose, 2) if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("elastic_transport", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    get_settings()


def _add(commands) -> None:
    for command in commands:
        main.add_command(command)


# the quickstart
from dealwatch import demo  # noqa: E402

_add(demo.COMMANDS)                 # demo, down

# the archive: the local node, enrichment
from indexer import cli as indexer_cli  # noqa: E402

_add(indexer_cli.COMMANDS)          # es start|stop|status, analyze, reenrich

# crawling: runs, the scheduler, re-extraction
from crawler import cli as crawler_cli  # noqa: E402

_add(crawler_cli.COMMANDS)          # crawl, status, reextract

# the scheduler daemon: crawl jobs and alert jobs in one scheduler
from dealwatch import daemon  # noqa: E402

_add(daemon.COMMANDS)               # schedule

# alerts: saved searches delivered by e-mail and webhook
from alerts import cli as alerts_cli  # noqa: E402

_add(alerts_cli.COMMANDS)           # alerts add|list|edit|pause|remove|run

# the backfill: the archive's past from WARC archives
from crawler.backfill import cli as backfill_cli  # noqa: E402

_add(backfill_cli.COMMANDS)         # import

# searching: the terminal, the exports, the web UI
from search_ui import cli as search_cli  # noqa: E402

_add(search_cli.COMMANDS)           # search, export, serve

# measuring
from bench import cli as bench_cli  # noqa: E402

_add(bench_cli.COMMANDS)            # bench
