"""``dealwatch bench …`` / ``python -m bench …``: run benchmark sections, print, write BENCHMARKS.md.

    dealwatch bench all                 every section (takes about an hour on 2 cores)
    dealwatch bench throughput          one section; also indexing, search, export, extraction, import
    dealwatch bench enrich              enrichment quality (bench/eval_enrich.py)
    dealwatch bench all --smoke         tiny sizes, a minute or two (CI, tests)
    dealwatch bench clean               delete the bench-* indices of this prefix
"""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import click

from dealwatch.settings import REPO_ROOT, get_settings

log = logging.getLogger(__name__)

DEFAULT_WORKDIR = Path("/tmp/dealwatch-bench")


def _context(smoke: bool, workdir: Path, newsplease: bool, keep: bool):
    from bench import machine
    from bench.sections import Context
    from indexer.client import make_client

    settings = get_settings()
    if smoke:  # smoke indices never share names with a full run's archives (clean() removes them)
        settings = settings.replace(index_prefix=f"{settings.index_prefix}smoke-")
    es = make_client(settings, request_timeout=300)
    workdir.mkdir(parents=True, exist_ok=True)
    argv = sys.argv[1:] if sys.argv and sys.argv[0].endswith(("dealwatch", "__main__.py")) else sys.argv
    prog = "python -m bench" if sys.argv and sys.argv[0].endswith("__main__.py") else "dealwatch"
    command = prog + " " + " ".join(shlex.quote(a) for a in argv)
    ctx = Context(settings, es, smoke, workdir, command.strip(), newsplease, keep)
    np_version = None
    if newsplease:
        from bench.newsplease_env import DEFAULT_VENV, newsplease_version, venv_python
        if venv_python(DEFAULT_VENV).exists():
            np_version = newsplease_version(venv_python(DEFAULT_VENV))
    ctx.facts = machine.facts(es, np_version)
    return ctx


def measure_sections(names: list[str], smoke: bool, output: Path, workdir: Path, newsplease: bool = True,
                 keep_archives: bool = False, enrich: bool = False) -> str:
    from bench import report
    from bench.sections import SECTIONS, clean, with_notes
    from bench.sections import enrich as run_enrich

    ctx = _context(smoke, workdir, newsplease, keep_archives)
    written: dict[str, str] = {report.MACHINE: report.machine_section(ctx.facts)}
    failures = []
    for name in names:
        heading, func = SECTIONS[name]
        click.secho(f"== {name}", bold=True)
        try:
            written[heading] = with_notes(name, func(ctx), smoke)
        except Exception as exc:  # one failing section is reported; the others still run and are written
            log.exception("section %s failed", name)
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
        report.write(output, written)  # after each section: a long run keeps what it measured
    if enrich:
        run_enrich(ctx)
    if smoke or not keep_archives and set(names) >= {"search", "export"}:
        dropped = clean(ctx)
        if dropped:
            click.echo(f"deleted bench indices: {', '.join(dropped)}")
    click.echo(f"\nwrote {output}")
    if failures:
        raise click.ClickException("sections failed: " + "; ".join(failures))
    return output.read_text(encoding="utf-8")


def _options(f):
    f = click.option("--smoke", is_flag=True, help="Tiny sizes (CI, tests): checks the harness, not the speed.")(f)
    f = click.option("--output", type=click.Path(path_type=Path), default=REPO_ROOT / "BENCHMARKS.md",
                     show_default="BENCHMARKS.md of the repository", help="Markdown file to update.")(f)
    f = click.option("--workdir", type=click.Path(path_type=Path), default=DEFAULT_WORKDIR, show_default=True,
                     help="Scratch space: crawl data, news-please venv and output, cached texts.")(f)
    return f


@click.group("bench")
def bench() -> None:
    """Benchmarks: throughput vs ceiling and news-please, indexing, search, export, extraction."""


@bench.command("all")
@_options
@click.option("--no-newsplease", is_flag=True, help="Skip the news-please run (no venv needed).")
@click.option("--keep-archives", is_flag=True, help="Keep the generated 100k/1M archives on the node.")
def all_sections(smoke: bool, output: Path, workdir: Path, no_newsplease: bool, keep_archives: bool) -> None:
    """Every section, then enrichment quality; rewrites BENCHMARKS.md."""
    measure_sections(["extraction", "throughput", "indexing", "search", "export", "import"], smoke, output, workdir,
                 not no_newsplease, keep_archives, enrich=True)


def _single(name: str, doc: str):
    @_options
    @click.option("--no-newsplease", is_flag=True, help="Skip the news-please run.")
    def cmd(smoke: bool, output: Path, workdir: Path, no_newsplease: bool) -> None:
        measure_sections([name], smoke, output, workdir, not no_newsplease, keep_archives=True)
    cmd.__doc__ = doc
    return bench.command(name)(cmd)


_single("throughput", "Crawl -> extract -> enrich -> index vs the extraction ceiling and news-please.")
_single("indexing", "Bulk indexing docs/s by chunk size and refresh setting.")
_single("search", "Search latency p50/p95/p99 at 100k and 1M documents, raw ES vs JSON API.")
_single("export", "CSV export of 10,000 and 100,000 rows: rows/s, first byte, app peak RSS.")
_single("extraction", "Extraction quality (P/R/F1) and date coverage vs plain trafilatura.")
_single("import", "Backfill from one WARC: prefiltered and --all import vs reading alone and news-please's from_warc.")


@bench.command("enrich")
@click.option("--smoke", is_flag=True, help="Check the harness only: print the figures, leave BENCHMARKS.md as it is.")
def enrich_cmd(smoke: bool) -> None:
    """Enrichment quality (bench/eval_enrich.py writes its own BENCHMARKS.md section)."""
    from bench.sections import enrich
    enrich(_context(smoke, DEFAULT_WORKDIR, False, True))


@bench.command("clean")
def clean_cmd() -> None:
    """Delete the bench-* indices of the current prefix from the node."""
    from bench.sections import clean
    names = clean(_context(False, DEFAULT_WORKDIR, False, True))
    click.echo("deleted: " + (", ".join(names) or "nothing"))


COMMANDS = [bench]
