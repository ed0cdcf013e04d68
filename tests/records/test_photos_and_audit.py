"""Photos by content hash, and the audit over chain and photos, on both backends."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from station.records.audit import verify_record
from station.records.photostore import DatabasePhotoStore, FolderPhotoStore, PhotoMissing
from station.records.store import EventStore, NewEvent

T0 = dt.datetime(2026, 11, 26, 15, 0, tzinfo=dt.UTC)
JPEG_A = b"\xff\xd8\xff\xe0 photo of vial A \xff\xd9"
JPEG_B = b"\xff\xd8\xff\xe0 photo of vial B \xff\xd9"


@pytest.fixture
def photos(backend, tmp_path):
    if backend.name == "sqlite":
        return FolderPhotoStore(tmp_path / "photos")
    return DatabasePhotoStore(backend.engine)


def test_a_photo_is_stored_once_under_its_hash(photos):
    first = photos.put(JPEG_A)
    assert photos.put(JPEG_A) == first
    assert photos.get(first) == JPEG_A
    assert photos.check(first) is None
    with pytest.raises(PhotoMissing):
        photos.get("0" * 64)


def test_folder_writes_leave_no_temporary_files(tmp_path):
    store = FolderPhotoStore(tmp_path / "photos")
    sha = store.put(JPEG_A)
    assert [p.name for p in store.path(sha).parent.iterdir()] == [f"{sha}.jpg"]


def test_audit_passes_on_an_intact_record_and_names_a_swapped_photo(backend, photos):
    store = EventStore(backend.engine)
    sha_a = photos.put(JPEG_A)
    store.append(NewEvent("P1", "photo_taken", {"photo": f"sha256:{sha_a}"}, "tech.ana",
                          "hood-1", T0), 0)
    report = verify_record(store, photos)
    assert report.summary() == "1 events in 1 preparations, 1 photos, chain intact"
    # Replace the stored photo's content behind the store's back.
    if isinstance(photos, FolderPhotoStore):
        photos.path(sha_a).write_bytes(JPEG_B)
    else:
        with backend.engine.begin() as connection:
            connection.execute(text("ALTER TABLE photos DISABLE TRIGGER USER"))
            connection.execute(text("UPDATE photos SET data = :b"), {"b": JPEG_B})
    report = verify_record(store, photos)
    assert not report.intact
    assert report.problem.startswith(f"event 1 (P1): photo {sha_a} does not match its content")


def test_audit_names_a_missing_photo(backend, photos):
    store = EventStore(backend.engine)
    store.append(NewEvent("P1", "photo_taken", {"photo": "ab" * 32}, "tech.ana", "hood-1", T0),
                 0)
    report = verify_record(store, photos)
    assert report.problem.startswith(f"event 1 (P1): photo {'ab' * 32} is missing")
