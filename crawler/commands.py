"""Commands of the crawler package (`dealwatch reextract`).

The crawl itself is started by ``dealwatch crawl`` / ``dealwatch schedule``
(crawler/jobs_commands.py), which run ``python -m crawler.run`` as a subprocess.
"""

from __future__ import annotations

import click

from dealwatch.settings import get_settings


@click.command("reextract")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable). Default: all.")
@click.option("--workers", type=int, default=None, help="Extraction processes (default: settings.extract_workers).")
def reextract(sources: tuple[str, ...], workers: int | None) -> None:
    """Rebuild documents from the stored raw pages (WARC), without fetching anything."""
    from crawler.reextract import reextract as run

    settings = get_settings()
    if not settings.raw_dir.is_dir():
        raise click.ClickException(f"no raw pages stored yet under {settings.raw_dir} (run a crawl first)")
    known = {p.name for p in settings.raw_dir.iterdir() if p.is_dir()}
    missing = [s for s in sources if s not in known]
    if missing:
        raise click.ClickException(f"no raw pages for source(s) {missing}; stored: {sorted(known)}")

    def progress(n: int) -> None:
        if n % 100 == 0:
            click.echo(f"\r{n} pages re-extracted", nl=False, err=True)

    result = run(settings, list(sources) or None, workers=workers, on_progress=progress)
    click.echo("", err=True)
    w = result.written
    click.echo(f"{result.pages} pages from {len(result.sources)} source(s): new {w['new']}, updated {w['updated']}, "
               f"unchanged {w['unchanged']}, failed {w['failed']}; dropped "
               + (", ".join(f"{k} {v}" for k, v in sorted(result.dropped.items())) or "0"))


COMMANDS = [reextract]
