"""The `dealwatch` command line: one group, its subcommands wired here, read top to bottom.

Each package keeps its commands next to its code in its own ``cli.py``; the table
:data:`COMMANDS` below says which command lives in which module, and the group imports a
module only when one of its commands runs (or ``--help`` lists them), so ``dealwatch search``
does not pay for loading the crawler, Scrapy or the benchmarks. This module also sets up
logging and turns the expected failures into one clear line and an exit code (the only place
that does): settings that cannot work (2), an archive that cannot answer (2), a local node that
cannot start (2).
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from dealwatch.settings import SettingsError, get_settings

EXIT_USAGE = 2

# command name -> the module whose ``COMMANDS`` list holds it, in the order ``--help`` shows them
COMMANDS: dict[str, str] = {
    # the quickstart
    "demo": "dealwatch.demo", "down": "dealwatch.demo",
    # the archive: the local node, enrichment
    "es": "indexer.cli", "analyze": "indexer.cli", "reenrich": "indexer.cli",
    # crawling: runs, their status, re-extraction, repairs, the sources file
    "crawl": "crawler.cli", "status": "crawler.cli", "reextract": "crawler.cli", "repair": "crawler.cli",
    "sources": "crawler.cli",
    # the scheduler daemon: crawl jobs and alert jobs in one scheduler
    "schedule": "dealwatch.daemon",
    # alerts: saved searches delivered by e-mail and webhook
    "alerts": "alerts.cli",
    # the backfill: the archive's past from WARC archives
    "import": "crawler.backfill.cli",
    # searching: the terminal, the web UI, the exports
    "search": "search_ui.cli", "serve": "search_ui.cli", "export": "search_ui.cli",
    # measuring
    "bench": "bench.cli",
}


def load_command(name: str) -> click.Command:
    """The command ``name`` from its module's ``COMMANDS`` list (KeyError for an unknown name)."""
    module = importlib.import_module(COMMANDS[name])
    for command in module.COMMANDS:
        if command.name == name:
            return command
    raise LookupError(f"{COMMANDS[name]}.COMMANDS has no command {name!r}")


class DealWatchGroup(click.Group):
    """Loads each command from its module on demand, and shows expected failures (a bad setting,
    missing Java, an unreachable cluster, a bad query) as one line without a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def invoke(self, ctx: click.Context):
        from indexer.errors import ArchiveError, BadQuery
        from indexer.node import NodeError

        try:
            return super().invoke(ctx)
        except (SettingsError, NodeError, ArchiveError) as exc:
            prefix = "bad query" if isinstance(exc, BadQuery) else "error"
            click.secho(f"{prefix}: {exc}", fg="red", err=True)
            sys.exit(EXIT_USAGE)


@click.group(cls=DealWatchGroup)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """DealWatch: crawl the press, archive articles, search and export them."""
    level = logging.WARNING - 10 * min(verbose, 2) if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("elastic_transport", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    get_settings()
