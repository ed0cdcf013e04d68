"""One record database opened for use: its engine, event store and photo store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from station.records.database import database_url, make_engine
from station.records.migrate import upgrade
from station.records.photostore import DatabasePhotoStore, FolderPhotoStore, PhotoStore
from station.records.store import EventStore


@dataclass
class Record:
    """The record at one URL."""

    url: str
    engine: Engine
    events: EventStore
    photos: PhotoStore

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()


def photo_store_for(url: str, engine: Engine) -> PhotoStore:
    """Beside an SQLite file, a ``photos`` folder; with a server, the shared database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:":
            raise ValueError("an in-memory SQLite record has nowhere to keep photos")
        store = FolderPhotoStore(Path(database).resolve().parent / "photos")
        store.sweep_incomplete()  # what a crash mid-write left behind, over an hour ago
        return store
    return DatabasePhotoStore(engine)


def open_record(url: str | None = None, *, migrate: bool = True) -> Record:
    """Open (and by default create or migrate) the record at ``url`` or the default."""
    chosen = database_url(url)
    engine = make_engine(chosen)
    if migrate:
        upgrade(engine)
    return Record(chosen, engine, EventStore(engine), photo_store_for(chosen, engine))
