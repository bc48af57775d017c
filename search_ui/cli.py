"""Commands of the search face: `dealwatch search`, `dealwatch serve`, `dealwatch export`.

They build the same :class:`indexer.query.SearchParams` the web app builds from a URL, so a
search on the terminal, on the page and in an export give the same articles. Archive errors
(unreachable, no index, bad query) reach the CLI's one handler in ``dealwatch/cli.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from dealwatch.settings import get_settings
from indexer.export import EXPORT_FIELDS
from indexer.query import HL_POST, HL_PRE, RELEVANCE, SORTS, SearchParams, strip_highlight


def _filter_options(fn):
    """The search filters, shared by `search` and `export` (same names as the URL parameters)."""
    opts = [
        click.option("--entity", "entities", multiple=True, help="Entity id (repeat: all must be mentioned)."),
        click.option("--type", "entity_types", multiple=True, help="Entity type (repeat: any of)."),
        click.option("--source", "sources", multiple=True, help="Source name (repeat: any of)."),
        click.option("--lang", "langs", multiple=True, help="Language code, e.g. en, pl (repeat: any of)."),
        click.option("--from", "date_from", default="", help="Published on or after (YYYY-MM-DD)."),
        click.option("--to", "date_to", default="", help="Published on or before (YYYY-MM-DD)."),
        click.option("--relevance", type=click.Choice(RELEVANCE), default=None,
                     help="relevant: about the story (default); possible: scored just below the threshold, "
                          "to review; all: every article."),
        click.option("--all", "all_articles", is_flag=True, help="Every article (the same as --relevance all)."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _params(query: str, entities, entity_types, sources, langs, date_from, date_to, relevance, all_articles,
            sort: str = "", size: int = 10) -> SearchParams:
    if all_articles and relevance not in (None, "all"):
        raise click.UsageError(f"--all and --relevance {relevance} contradict each other: give one of them.")
    return SearchParams.parse({"q": query, "entities": entities, "entity_types": entity_types, "sources": sources,
                               "langs": langs, "date_from": date_from, "date_to": date_to,
                               "relevance": relevance or ("all" if all_articles else "relevant"),
                               "sort": sort, "size": size})


_NOUNS = {"relevant": "relevant articles", "possible": "possibly relevant articles", "all": "articles"}


def _terminal_highlight(text: str) -> str:
    return text.replace(HL_PRE, "\x1b[1;33m").replace(HL_POST, "\x1b[0m") if sys.stdout.isatty() \
        else text.replace(HL_PRE, "[").replace(HL_POST, "]")


@click.command("search")
@click.argument("query", required=False, default="")
@_filter_options
@click.option("-n", "--limit", default=10, show_default=True, help="How many hits to print.")
@click.option("--sort", type=click.Choice(SORTS), default=None, help="Default: relevance with a query, else newest.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer instead.")
def search_command(query, entities, entity_types, sources, langs, date_from, date_to, relevance, all_articles,
                   limit, sort, as_json):
    """Full-text search of the archive: top hits and the total count.

    QUERY uses the search syntax: words (all must match), OR, NOT or -word, "a phrase",
    prefix*, and title: source: author: lang: entity: fields. Example:

        dealwatch search 'facebook (bank OR banki) -google' --lang pl

    With --relevance possible it lists the articles scored just below the relevance threshold,
    each with the sentences that gave it its score, for review.
    """
    import json

    from indexer.archive import Archive

    settings = get_settings()
    params = _params(query, entities, entity_types, sources, langs, date_from, date_to, relevance, all_articles,
                     sort or "", max(1, min(limit, settings.ui_max_page_size)))
    result = Archive(settings).search(params, facets=as_json)
    if as_json:
        from search_ui.render import hit_json

        body = {**result.as_dict(), "hits": [hit_json(h) for h in result.hits]}
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    shown = _NOUNS[params.relevance]
    noun = shown if result.total != 1 else shown[:-1]
    click.echo(f"{result.total} {noun} found"
               + (f" (showing {len(result.hits)})" if result.total > len(result.hits) else ""))
    for i, h in enumerate(result.hits, 1):
        date = (h.published_at or "")[:10] or "no date"
        click.echo("")
        click.secho(f"{i}. {strip_highlight(h.title_hl)}", bold=True)
        extra = f" · +{h.similar_count} similar" if h.similar_count else ""
        click.echo(f"   {h.source} · {date} · {h.lang or '?'}{extra}")
        click.echo(f"   {h.url}")
        snippet = " ".join(h.snippet_hl.split())
        if snippet:
            click.echo(f"   {_terminal_highlight(snippet[:400])}")
        if h.relevance_band == "possible":
            click.echo(f"   possibly relevant (topic score {h.relevance_score:.2f}), because:")
            for sentence in h.relevance_evidence:
                click.echo(f"     » {sentence[:400]}")
    if not params.relevant_only or result.total:
        return
    click.echo("(only relevant articles are searched; add --relevance possible for the borderline ones, "
               "--all to search everything)")


@click.command("export")
@click.argument("query", required=False, default="")
@_filter_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (default: standard output).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
              help="Default: from the file's extension, else csv.")
@click.option("--bom", is_flag=True, help="Start the CSV with a byte order mark (for Excel).")
@click.option("--fields", default="", metavar="NAMES",
              help="Columns, in order, comma-separated (e.g. title,text,evidence); default: the standard columns. "
                   "Available: " + ", ".join(EXPORT_FIELDS) + ".")
def export_command(query, entities, entity_types, sources, langs, date_from, date_to, relevance, all_articles,
                   output, fmt, bom, fields):
    """Export ALL articles matching QUERY and the filters as CSV or JSON Lines (streamed, no limit).

    Each row names its relevance band (relevant, possible, not) and the evidence sentences behind
    its topic score: `--relevance possible` exports the borderline articles for review.
    `--fields title,text,evidence` exports the full text with its evidence.
    """
    from indexer import export
    from indexer.archive import Archive
    from indexer.errors import ArchiveError

    settings = get_settings()
    fmt = fmt or ("jsonl" if output and output.suffix in (".jsonl", ".ndjson") else "csv")
    params = _params(query, entities, entity_types, sources, langs, date_from, date_to, relevance, all_articles)
    chosen = export.choose_fields(fields) if fields.strip() else None
    archive = Archive(settings)
    chunks = export.csv_chunks(archive, params, bom=bom, fields=chosen or export.COLUMNS) if fmt == "csv" \
        else export.jsonl_chunks(archive, params, fields=chosen)
    started = time.monotonic()
    out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    n = 0
    try:
        for chunk in chunks:
            out.write(chunk)
            n += chunk.count("\n") if fmt == "jsonl" else 0
    except ArchiveError:
        if output:
            out.close()
            output.unlink(missing_ok=True)  # no half-written file that looks like a result
        raise
    finally:
        if output and not out.closed:
            out.close()
    if output:
        if fmt == "csv":
            with open(output, encoding="utf-8-sig", newline="") as fh:
                import csv
                n = sum(1 for _ in csv.reader(fh)) - 1
        click.echo(f"{n} rows written to {output} in {time.monotonic() - started:.1f}s", err=True)


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: DEALWATCH_UI_HOST).")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port to listen on (default: DEALWATCH_UI_PORT).")
@click.option("--reload", is_flag=True, help="Reload on code changes (development).")
def serve_command(host, port, reload):
    """Run the web UI and JSON API (search, articles, entities, sources, exports, Atom feeds)."""
    import uvicorn

    settings = get_settings()
    host = host if host is not None else settings.ui_host
    port = port if port is not None else settings.ui_port
    click.echo(f"DealWatch search at http://{host}:{port}/  (API docs: http://{host}:{port}/docs)")
    if settings.ui_token:
        click.echo("access requires the token from DEALWATCH_UI_TOKEN")
    # the app logs method, path, status and time itself; uvicorn's access log would also record query
    # strings, which may carry the access token
    uvicorn.run("search_ui.app:create_app", factory=True, host=host, port=port, reload=reload, log_level="info",
                access_log=False)


COMMANDS = [search_command, serve_command, export_command]
