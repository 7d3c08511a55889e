"""Operations commands: ``backup`` and ``restore``."""

from __future__ import annotations

from pathlib import Path

import click

from scraper.clikit import config_option, exclusive, load_settings


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@config_option
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
def backup(path: Path, config_path: str, force: bool) -> None:
    """Copy the database to PATH (a file, or a folder for a timestamped file), online, then verify it.

    Safe while the daemon runs: SQLite's backup API takes a consistent snapshot, the copy is checked
    with integrity_check, and it appears at PATH only when complete (temporary file, then rename).
    Attachments are content-addressed files beside the database; copy that folder with rsync.
    """
    from db.backup import BackupError, backup as run_backup

    settings = load_settings(config_path)
    try:
        report = run_backup(settings.database, path, overwrite=force)
    except BackupError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"backup: {report.path} ({report.bytes:,} bytes, integrity {report.integrity}, "
               f"{report.seconds:.1f} s)")


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@config_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore(path: Path, config_path: str, yes: bool) -> None:
    """Replace the database with the backup at PATH (refused while the daemon or a run holds the lock).

    The backup is verified first; the current database is kept as <database>.before-restore-<time>.
    """
    from db.backup import BackupError, known_migrations, restore as run_restore

    settings = load_settings(config_path)
    if not yes:
        click.confirm(f"Replace {settings.database} with {path}?", abort=True)
    with exclusive(settings, "restore"):
        try:
            kept = run_restore(path, settings.database, known_migrations())
        except BackupError as e:
            raise click.ClickException(str(e)) from None
        from db import open_db

        open_db(settings.database).close()  # applies migrations newer than the backup
    click.echo(f"restored {settings.database} from {path}"
               + (f"; the previous database is kept at {kept}" if kept else ""))
