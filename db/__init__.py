"""SQLite storage: connection contract, migrations, store, outbox. All SQL lives here."""

from sqlite_utils import Database

from db.connection import open_db, pragmas, write
from db.outbox import OutboxRow
from db.store import CheckWrite, SourceState

__all__ = ["CheckWrite", "Database", "OutboxRow", "SourceState", "open_db", "pragmas", "write"]
