"""Commands of the indexer: the local Elasticsearch node, the index, and search from the terminal."""

from __future__ import annotations

import click

from dealwatch.settings import get_settings
from indexer import node


@click.group("es")
def es_group() -> None:
    """Manage the local Elasticsearch node (unless DEALWATCH_ES_URL names a cluster)."""


@es_group.command("start")
def es_start() -> None:
    """Download (once), start and wait for the local node."""
    st = node.start(get_settings())
    click.echo(st.describe())


@es_group.command("stop")
def es_stop() -> None:
    """Stop the local node."""
    s = get_settings()
    click.echo("stopped" if node.stop(s) else f"not running (pid file: {s.es_run_dir})")


@es_group.command("status")
def es_status() -> None:
    """Say what runs where."""
    st = node.status(get_settings())
    click.echo(st.describe())
    raise SystemExit(0 if st.running else 1)


COMMANDS = [es_group]
