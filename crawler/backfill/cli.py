"""``dealwatch import``: fill the archive's past from WARC archives (files, folders, URLs, CC-NEWS months).

    dealwatch import crawl.warc.gz archive/ 'more/*.warc.gz'        local files, prefiltered
    dealwatch import --all https://example.org/one.warc.gz           a URL read as a stream, every article
    dealwatch import --cc-news 2018-08..2018-09 --seed-domains       CC-NEWS, only the configured sources' domains
    dealwatch import --cc-news 2018-08 --scheduler tcp://host:8786   the same on a Dask cluster

See docs/backfill.md.
"""

from __future__ import annotations

import logging
import sys
import uuid
from collections import Counter
from pathlib import Path

import click

from dealwatch.settings import get_settings

log = logging.getLogger(__name__)


def _options(all_pages: bool, domains: tuple[str, ...], seed_domains: bool, since: str | None, until: str | None,
             langs: tuple[str, ...], sources):
    from crawler.backfill.filters import ImportOptions
    from crawler.backfill.importer import parse_when

    wanted = {d.strip().lower().lstrip(".") for d in domains if d.strip()}
    if seed_domains:
        if not sources.by_domain:
            raise click.ClickException("--seed-domains: the sources file names no domains")
        wanted |= set(sources.domains())
    try:
        since_dt, until_dt = parse_when(since), parse_when(until, end_of_day=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if since_dt and until_dt and until_dt <= since_dt:
        raise click.BadParameter("--until must come after --since")
    return ImportOptions(prefilter=not all_pages, domains=tuple(sorted(wanted)), since=since_dt, until=until_dt,
                         langs=tuple(sorted({lang.strip().lower() for lang in langs if lang.strip()})))


@click.command("import")
@click.argument("sources", nargs=-1)
@click.option("--cc-news", "months", multiple=True, metavar="YYYY-MM[..YYYY-MM]",
              help="CC-NEWS files of these months (read from the setting cc_news_base_url). Repeatable.")
@click.option("--all", "all_pages", is_flag=True,
              help="Import every article page, not only those the topic prefilter keeps.")
@click.option("--domain", "domains", multiple=True, metavar="HOST",
              help="Only pages of this host and its subdomains. Repeatable.")
@click.option("--seed-domains", is_flag=True, help="Only pages of the domains of the sources file.")
@click.option("--since", metavar="DATE", help="Only articles published on or after this day (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Only articles published up to this day, included.")
@click.option("--lang", "langs", multiple=True, metavar="CODE", help="Only articles in this language. Repeatable.")
@click.option("--sources-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Sources YAML naming which source a host belongs to (default: seeds/sources.yaml).")
@click.option("-j", "--workers", type=click.IntRange(1, 256), default=None,
              help="Processes on this machine, one file each (default: one per core).")
@click.option("--scheduler", metavar="ADDRESS", help="Run on the Dask cluster of this scheduler (tcp://host:8786).")
@click.option("--max-files", type=click.IntRange(1), default=None, help="Only the first N files (a trial run).")
@click.option("--restart", is_flag=True, help="Forget the checkpoints of these files: read them from the start.")
def import_command(sources: tuple[str, ...], months: tuple[str, ...], all_pages: bool, domains: tuple[str, ...],
                   seed_domains: bool, since: str | None, until: str | None, langs: tuple[str, ...],
                   sources_file: Path | None, workers: int | None, scheduler: str | None, max_files: int | None,
                   restart: bool) -> None:
    """Import articles from WARC/ARC files, folders, globs, URLs or CC-NEWS months (resumable)."""
    import os

    from crawler.backfill import ccnews
    from crawler.backfill.filters import SourceMap
    from crawler.backfill.importer import checkpoint_ids
    from crawler.backfill.inputs import InputError, expand_all
    from crawler.backfill.progress import Progress, summarize
    from crawler.sources import SourcesError
    from indexer.archive import Archive

    settings = get_settings()
    if not sources and not months:
        raise click.UsageError("name WARC files, folders, globs or URLs, or --cc-news MONTH")
    sources_path = sources_file or Path(settings.sources_file)
    try:
        source_map = SourceMap.from_file(sources_path)
    except SourcesError as exc:
        raise click.ClickException(str(exc)) from exc
    options = _options(all_pages, domains, seed_domains, since, until, langs, source_map)
    try:
        inputs = expand_all(list(sources))
        if months:
            inputs += [i for i in ccnews.inputs(settings.cc_news_base_url, list(months))
                       if i.key not in {x.key for x in inputs}]
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    if max_files:
        inputs = inputs[:max_files]
    if not inputs:
        raise click.ClickException("nothing to import")

    archive = Archive(settings)
    archive.ensure()
    ids = checkpoint_ids(inputs, options)
    if restart:
        archive.forget_import_checkpoints(ids.values())
    done = {cid for cid, cp in archive.load_import_checkpoints(ids.values()).items() if cp.done}
    run_id = uuid.uuid4().hex[:8]
    where = f"Dask scheduler {scheduler}" if scheduler else \
        f"{min(workers or os.cpu_count() or 1, len(inputs))} process(es) here"
    click.echo(f"import {run_id}: {len(inputs)} file(s) ({len(done)} finished before), "
               f"{'every article' if all_pages else 'prefiltered on the topic'}"
               f"{'; ' + options.signature().split(';', 1)[1] if ';' in options.signature() else ''}; {where}")

    failures: list[str] = []

    def on_result(result) -> None:
        if result.status == "failed":
            failures.append(f"{result.file}: {result.error}")

    with Progress(archive, ids) as progress:
        if scheduler:
            from crawler.backfill.dask_runner import run_dask
            results = run_dask(inputs, options, settings, sources_path, run_id, scheduler, on_result)
        else:
            from crawler.backfill.local import run_local
            results = run_local(inputs, options, settings, sources_path, run_id,
                                workers or os.cpu_count() or 1, on_result)
    archive.refresh()
    totals: Counter = Counter()
    for cp in archive.load_import_checkpoints(ids.values()).values():
        totals.update(cp.counts)
    finished = sum(r.status in ("done", "skipped") for r in results)
    click.echo(summarize(totals, files=f"{finished}/{len(inputs)}"))
    if failures:
        click.secho(f"{len(failures)} file(s) failed (run the same command again to resume them):", fg="red", err=True)
        for line in failures[:20]:
            click.echo(f"  {line}", err=True)
        sys.exit(1)


COMMANDS = [import_command]
