"""Child process for the crash test: append events with photos, report each after commit.

Run as ``python -m tests.records.crash_child URL PHOTO_DIR PREPARATION``. Each line printed
is ``sequence sha256`` of an event whose append call has returned (so is committed).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from station.records.database import make_engine
from station.records.photostore import DatabasePhotoStore, FolderPhotoStore
from station.records.store import EventStore, NewEvent


def main(url: str, photo_dir: str, preparation: str) -> None:
    engine = make_engine(url)
    store = EventStore(engine)
    photos = (DatabasePhotoStore(engine) if url.startswith("postgresql")
              else FolderPhotoStore(Path(photo_dir)))
    version = store.version_of(preparation)
    while True:
        photo = os.urandom(64 * 1024)  # a photo-sized write, so kills land inside it too
        sha256 = photos.put(photo)
        stored = store.append(NewEvent(preparation, "photo_taken", {"photo": sha256},
                                       "tech.ana", "hood-1", dt.datetime.now(dt.UTC)), version)
        version = stored.version
        # One write of the whole line: atomic on a pipe, so a kill never leaves half a report.
        os.write(1, f"{stored.sequence} {sha256}\n".encode("ascii"))


if __name__ == "__main__":
    main(*sys.argv[1:4])
