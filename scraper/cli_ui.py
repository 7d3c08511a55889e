"""``clusterwatch ui``: browse the history in Datasette, read-only, on 127.0.0.1 by default."""

from __future__ import annotations

import json

import click

from scraper import ui
from scraper.clikit import database_path, db_options


@click.command("ui")
@db_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; one that is not loopback also needs --public.")
@click.option("--port", type=click.IntRange(1, 65535), default=8001, show_default=True, help="Port to listen on.")
@click.option("--public", is_flag=True, help="Allow a --host that other machines can reach (there is no login).")
@click.option("--print-metadata", is_flag=True,
              help="Print the Datasette metadata for this database (for a plain `datasette serve -m`) and exit.")
def ui_cmd(config_path: str, db_path: str | None, host: str, port: int, public: bool, print_metadata: bool) -> None:
    """Browse the history in Datasette (read-only): views, facets and canned queries."""
    database = database_path(config_path, db_path)
    if print_metadata:
        click.echo(json.dumps(ui.metadata_for(database), ensure_ascii=False, indent=2))
        return
    try:
        _check_host(host, public)
        launch = ui.prepare(database, host, port)
    except ui.UIError as e:
        raise click.ClickException(str(e)) from None
    version = ui.datasette_version() or ""
    if not version.startswith(ui.TESTED + "."):
        click.echo(f"warning: clusterwatch ui is made for Datasette {ui.TESTED}.x; {version} may ignore "
                   "parts of its metadata", err=True)
    extra = ui.plugins()
    if extra:
        click.echo(f"warning: these Datasette plugins load too and may not be read-only: {', '.join(extra)}",
                   err=True)
    click.echo(f"Serving {database} read-only at {launch.url} (Ctrl-C to stop)")
    ui.exec_datasette(launch)


def _check_host(host: str, public: bool) -> None:
    """A host other machines can reach needs --public, and gets a warning."""
    if ui.is_loopback(host):
        return
    if not public:
        raise click.UsageError(f"--host {host} is reachable from other machines and Datasette has no login; "
                               "add --public if you mean it")
    click.echo(f"warning: serving on {host}: anyone who can reach it can read the whole history, "
               "subscribers' names and addresses included", err=True)

