"""The `dealwatch` command line: one group whose subcommands come from each package.

Each package keeps its own commands next to its code (``crawler/commands.py``,
``indexer/commands.py``, ``search_ui/commands.py``, ``dealwatch/demo.py``); this module only
assembles them, sets up logging and turns expected errors into clear one-line messages.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from dealwatch.settings import get_settings

# module path -> attribute holding a click command or group (registered in this order)
COMMAND_MODULES = (
    "indexer.commands",          # es start|stop|status
    "crawler.commands",          # reextract, demo-sites
    "crawler.jobs_commands",     # crawl, schedule, status
    "indexer.enrich.commands",   # analyze, reenrich
    "search_ui.commands",        # search, serve, export
    "dealwatch.demo",            # demo (the quickstart's main job)
    "bench.commands",            # bench
)


class FriendlyGroup(click.Group):
    """Shows expected failures (missing Java, unreachable cluster, bad query) without a traceback."""

    def invoke(self, ctx: click.Context):
        from indexer.node import NodeError
        try:
            return super().invoke(ctx)
        except NodeError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=FriendlyGroup)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """DealWatch: crawl the press, archive articles, search and export them."""
    level = logging.WARNING - 10 * min(verbose, 2) if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("elastic_transport", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    get_settings()


def _register() -> None:
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if module_name.startswith(exc.name or "\0"):  # package not written yet
                continue
            raise
        for command in getattr(module, "COMMANDS", ()):
            main.add_command(command)


_register()
