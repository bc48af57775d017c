"""Commands of the enrichment: ``dealwatch analyze`` and ``dealwatch reenrich``."""

from __future__ import annotations

import sys

import click

from dealwatch.settings import get_settings


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
    from indexer.client import make_client
    from indexer.enrich.reenrich import reenrich as run

    settings = get_settings()
    es = make_client(settings)
    if not es.indices.exists_alias(name=settings.articles_alias):
        click.echo(f"no archive yet: alias {settings.articles_alias} does not exist (crawl first)", err=True)
        sys.exit(1)
    query = {"term": {"source": source}} if source else {"match_all": {}}
    total = es.count(index=settings.articles_alias, query=query)["count"]
    with click.progressbar(length=total, label="re-enriching", file=sys.stderr) as bar:
        result = run(es, settings, source=source, batch_size=batch_size, progress=bar.update)
    click.echo(f"re-enriched {result.updated} of {result.scanned} articles: {result.relevant} relevant "
               f"({result.relevance_changed} changed), entities changed in {result.entities_changed}, "
               f"clusters changed in {result.clusters_changed}, {result.failed} failed")
    for e in result.errors[:10]:
        click.echo(f"  {e}", err=True)
    if result.failed:
        sys.exit(1)


COMMANDS = [analyze, reenrich]
