"""The quickstart's main job, offline: start everything, crawl the bundled demo sites, serve the UI.

``dealwatch demo`` = start the local Elasticsearch node (downloaded once) → serve the demo
news sites from ``seeds/demo/`` on loopback addresses → save one alert → crawl them all (the
same crawl jobs as ``dealwatch crawl``) → deliver the alert's digest of the new articles to a
local mailbox file (the same exactly-once runner as the scheduler) → start the web UI → print
the archive size and the UI's URL.
Running it again reuses what runs and adds no duplicates. ``dealwatch down`` stops it all.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import click

from dealwatch import services
from dealwatch.settings import get_settings
from indexer import node
from indexer.archive import Archive


def _dealwatch_argv(*args: str) -> list[str]:
    exe = shutil.which("dealwatch", path=str(Path(sys.executable).parent))
    return [exe, *args] if exe else [sys.executable, "-m", "dealwatch", *args]


@click.command("demo")
@click.option("--no-ui", is_flag=True, help="Crawl and index only; do not start the web UI.")
def demo(no_ui: bool) -> None:
    """Crawl the bundled demo sites into the archive and start the web UI."""
    settings = get_settings()
    started = time.monotonic()
    if settings.local_node:
        click.echo("1/4 Elasticsearch: starting the local node (first run downloads it with Maven)…")
        click.echo("    " + node.start(settings).describe())
    else:
        click.echo(f"1/4 Elasticsearch: using the cluster at {settings.shown_es_url}")
    archive = Archive(settings)
    archive.ensure()

    port = settings.demo_port
    click.echo(f"2/4 Demo sites: serving seeds/demo on 127.0.0.2–127.0.0.5 and a news-search engine with its "
               f"publishers on 127.0.0.20–127.0.0.25, port {port}…")
    services.start(settings, "demo-sites",
                   services.python_module("demo_sites", "--port", str(port)),
                   ready_url=f"http://127.0.0.2:{port}/robots.txt")

    alert = _demo_alert(archive)
    click.echo("3/4 Crawl: every demo source, extract, enrich, index…")
    from crawler.cli import crawl
    from demo_sites import write_sources_file
    # the demo sources for the port the sites are served on (seeds/demo/sources.yaml says 8080)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    sources_file = write_sources_file(settings.state_dir / "demo-sources.yaml", port)
    crawl.main(["--sources-file", str(sources_file)], standalone_mode=False)

    archive.refresh()
    total = archive.count()
    mailbox_line = _deliver_demo_alert(archive, settings, alert)
    if no_ui:
        click.echo(f"Archive: {total} articles in '{settings.articles_alias}' ({time.monotonic() - started:.0f}s)")
        click.echo(mailbox_line)
        return
    click.echo("4/4 Web UI: starting…")
    ui_url = f"http://{settings.ui_host}:{settings.ui_port}"
    services.stop(settings, "ui")  # a UI left by an earlier run may be running older code
    services.start(settings, "ui", _dealwatch_argv("serve"), ready_url=f"{ui_url}/api/search?q=&size=1")
    click.echo("")
    click.echo(f"Archive: {total} articles in '{settings.articles_alias}' ({time.monotonic() - started:.0f}s)")
    click.echo(f"Search:  dealwatch search \"Facebook banks\"")
    click.echo(f"Crawl:   dealwatch crawl --sources-file {sources_file}")
    click.echo(mailbox_line)
    click.echo(f"Web UI:  {ui_url}/")
    click.echo("Stop everything with: dealwatch down")


DEMO_ALERT = "Demo: platforms and banks' customer data"


def _demo_alert(archive: Archive):
    """The demo's saved search (made once, before the first crawl: what that crawl archives is new to it)."""
    from indexer.saved_searches import build

    found = archive.find_saved_search(DEMO_ALERT)
    if found is None:
        found = archive.save_search(build(name=DEMO_ALERT, query="q=bank", schedule="after-crawl",
                                          emails=["Demo Reader <reader@demo.invalid>"]))
    return found


def _deliver_demo_alert(archive: Archive, settings, alert) -> str:
    """The alert's digest of what the crawl brought, into a local mailbox file; the line that says so."""
    from alerts.runner import run_alert

    mailbox = settings.alerts_mailbox or settings.data_dir / "demo-mailbox.mbox"
    outcome = run_alert(archive, settings.replace(alerts_mailbox=mailbox), alert.id)
    return (f"Alert:   '{alert.name}': {outcome.line()}; read it with `mutt -f {mailbox}` "
            "(real e-mail: DEALWATCH_SMTP_HOST and `dealwatch schedule`, see docs/alerts.md)")


@click.command("down")
def down() -> None:
    """Stop the web UI, the demo sites and the local Elasticsearch node."""
    settings = get_settings()
    for name in ("ui", "demo-sites"):
        click.echo(f"{name}: {'stopped' if services.stop(settings, name) else 'not running'}")
    if settings.local_node:
        click.echo(f"elasticsearch: {'stopped' if node.stop(settings) else 'not running'}")


COMMANDS = [demo, down]
