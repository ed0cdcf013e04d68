"""A photograph the record names, read from the photo store with its hash checked.

An event names each photo by the sha256 of its bytes. :func:`read_photo` reads the bytes the
store holds under that name and says whether they still hash to it: a photo that does not
was changed after it was taken, and the screens that show it say so (the pharmacist's review
refuses it; the auditor's replay shows it, marked). This is the one place that check is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from station.records.photostore import PhotoStore, digest

__all__ = ["StoredPhoto", "read_photo"]


@dataclass(frozen=True)
class StoredPhoto:
    """A photo's bytes as stored, and whether they hash to the name the record gives them."""

    sha256: str
    data: bytes = field(repr=False)
    intact: bool


def read_photo(photos: PhotoStore, sha256: str) -> StoredPhoto:
    """The photo named ``sha256`` in ``photos``, its bytes checked against that hash.

    Raises what the store raises: :class:`~station.records.photostore.PhotoMissing` (a
    :class:`~station.core.errors.StationError`) when it has no such photo, :class:`OSError`
    or a database error when it cannot be read.
    """
    data = photos.get(sha256)
    return StoredPhoto(sha256, data, intact=digest(data) == sha256)
