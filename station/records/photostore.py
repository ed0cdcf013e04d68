"""Photographs stored by content hash, and referenced from events by that hash.

With SQLite they go in a local folder, written atomically: a temporary file in the same
folder, fsync, rename over the final name, fsync of the folder, so a crash leaves either
the whole photo or none. With PostgreSQL they go in the ``photos`` table, so every station
and remote pharmacist sees the same ones.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, insert, select

from station.core.errors import StationError
from station.records.schema import photos


class PhotoMissing(StationError):
    """An event names a photo the store does not have."""


class PhotoStore(Protocol):
    """Where photographs live."""

    def put(self, data: bytes, media_type: str = "image/jpeg") -> str:
        """Store ``data`` (idempotent); its sha256, hex."""
        ...

    def get(self, sha256: str) -> bytes:
        """The photo's bytes, or :class:`PhotoMissing`."""
        ...

    def check(self, sha256: str) -> str | None:
        """None when the photo is present and hashes to its name; else what is wrong."""
        ...


def digest(data: bytes) -> str:
    """sha256 of ``data``, hex."""
    return hashlib.sha256(data).hexdigest()


class FolderPhotoStore:
    """Photos as files named by their hash, under ``root/ab/abcdef….jpg``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        """Where the photo with this hash lives."""
        return self.root / sha256[:2] / f"{sha256}.jpg"

    def put(self, data: bytes, media_type: str = "image/jpeg") -> str:
        """Write atomically; a photo already stored is not written again."""
        del media_type
        sha256 = digest(data)
        final = self.path(sha256)
        if final.exists() and digest(final.read_bytes()) == sha256:
            return sha256
        final.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=final.parent, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, final)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        folder = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        return sha256

    def sweep_incomplete(self, older_than: float = 3600.0) -> int:
        """Remove temporary files a crash left mid-write (never referenced); how many."""
        cutoff = time.time() - older_than
        removed = 0
        for leftover in self.root.rglob(".incoming-*"):
            if leftover.stat().st_mtime <= cutoff:
                leftover.unlink(missing_ok=True)
                removed += 1
        return removed

    def get(self, sha256: str) -> bytes:
        """The photo's bytes."""
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise PhotoMissing(f"photo {sha256} is missing from {self.root}") from None

    def check(self, sha256: str) -> str | None:
        """What is wrong with the stored photo, if anything."""
        path = self.path(sha256)
        if not path.exists():
            return f"photo {sha256} is missing ({path})"
        actual = digest(path.read_bytes())
        if actual != sha256:
            return f"photo {sha256} does not match its content (hashes to {actual}): {path}"
        return None


class DatabasePhotoStore:
    """Photos in the shared database's ``photos`` table (PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(self, data: bytes, media_type: str = "image/jpeg") -> str:
        """Insert unless present; committed when this returns."""
        sha256 = digest(data)
        with self.engine.begin() as connection:
            present = connection.execute(
                select(photos.c.sha256).where(photos.c.sha256 == sha256)
            ).first()
            if present is None:
                connection.execute(insert(photos).values(sha256=sha256, media_type=media_type,
                                                         size=len(data), data=data))
        return sha256

    def get(self, sha256: str) -> bytes:
        """The photo's bytes."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(photos.c.data).where(photos.c.sha256 == sha256)
            ).first()
        if row is None:
            raise PhotoMissing(f"photo {sha256} is missing from the database")
        return bytes(row.data)

    def check(self, sha256: str) -> str | None:
        """What is wrong with the stored photo, if anything."""
        try:
            data = self.get(sha256)
        except PhotoMissing as error:
            return str(error)
        actual = digest(data)
        if actual != sha256:
            return f"photo {sha256} does not match its content (hashes to {actual})"
        return None
