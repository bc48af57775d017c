"""Commands of the indexer: the local Elasticsearch node, enrichment over text and over the archive.

``dealwatch es start|stop|status``, ``dealwatch analyze`` (enrichment of any text, no archive)
and ``dealwatch reenrich`` (enrichment again over the stored archive). Archive errors reach
the CLI's one handler in ``dealwatch/cli.py``.
"""

from __future__ import annotations

import sys

import click

from dealwatch.settings import get_settings


@click.group("es")
def es_group() -> None:
    """Manage the local Elasticsearch node (unless DEALWATCH_ES_URL names a cluster)."""


@es_group.command("start")
def es_start() -> None:
    """Download (once), start and wait for the local node."""
    from indexer import node

    click.echo(node.start(get_settings()).describe())


@es_group.command("stop")
def es_stop() -> None:
    """Stop the local node."""
    from indexer import node

    s = get_settings()
    click.echo("stopped" if node.stop(s) else f"not running (pid file: {s.es_run_dir})")


@es_group.command("status")
def es_status() -> None:
    """Say what runs where."""
    from indexer import node

    st = node.status(get_settings())
    click.echo(st.describe())
    raise SystemExit(0 if st.running else 1)


@click.command("analyze")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="Write JSON lines here (default: standard output).")
def analyze(file, output) -> None:
    """Enrich JSON lines (text, optional id/title/lang/url) and print one JSON line per record.

    FILE is a .jsonl file, or - for standard input. Output per record: id, lang, relevance
    {score, relevant, evidence}, entities [{id, name, type, count}], other_names - the same
    code path as indexing.
    """
    from indexer.enrich.analyze import analyze_stream

    result = analyze_stream(file, output, get_settings())
    output.flush()
    click.echo(f"analyzed {result.written} records ({result.relevant} relevant), {result.failed} skipped", err=True)
    for e in result.errors[:10]:
        click.echo(f"  {e}", err=True)
    if result.failed and not result.written:
        sys.exit(1)


@click.command("reenrich")
@click.option("--source", default=None, help="Only articles of this source (name from seeds/sources.yaml).")
@click.option("--batch-size", default=200, show_default=True, help="Documents per bulk update.")
def reenrich(source: str | None, batch_size: int) -> None:
    """Re-run enrichment (lemmas, entities, relevance, clusters) over the stored archive, without crawling.

    Use it after editing seeds/watchlist.yaml or seeds/topic.yaml.
    """
    from indexer.archive import Archive
    from indexer.reenrich import reenrich as run

    settings = get_settings()
    archive = Archive(settings)
    if not archive.exists():
        raise click.ClickException(f"no archive yet: alias {settings.articles_alias} does not exist (crawl first)")
    with click.progressbar(length=archive.count(source), label="re-enriching", file=sys.stderr) as bar:
        result = run(archive, source=source, batch_size=batch_size, progress=bar.update)
    click.echo(f"re-enriched {result.updated} of {result.scanned} articles: {result.relevant} relevant "
               f"({result.relevance_changed} changed), entities changed in {result.entities_changed}, "
               f"clusters changed in {result.clusters_changed}, {result.failed} failed")
    for e in result.errors[:10]:
        click.echo(f"  {e}", err=True)
    if result.failed:
        sys.exit(1)


COMMANDS = [es_group, analyze, reenrich]
