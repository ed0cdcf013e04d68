"""The record's tables. Every one of them is append-only: rows are inserted, never changed.

- ``events``: every preparation event, chained in commit order (see station.core.chain).
- ``photos``: photographs by content hash (PostgreSQL; with SQLite they live in a folder).
- ``user_events``: accounts as a history (created, password set, disabled, login failed …).
- ``formulary_versions``: each imported formulary, as signed, with its text.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

events = Table(
    "events",
    metadata,
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("previous_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("preparation_id", String(64), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("kind", String(64), nullable=False, index=True),
    Column("station_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False, index=True),
    Column("recorded_at", String(40), nullable=False, index=True),
    Column("payload", Text, nullable=False),
    UniqueConstraint("preparation_id", "version", name="one_version_per_preparation"),
)

photos = Table(
    "photos",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("media_type", String(40), nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)

user_events = Table(
    "user_events",
    metadata,
    # SQLite numbers rows itself only for a column declared exactly INTEGER PRIMARY KEY.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("recorded_at", String(40), nullable=False),
    Column("payload", Text, nullable=False),
)

formulary_versions = Table(
    "formulary_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("sha256", String(64), nullable=False),
    Column("source_name", String(255), nullable=False),
    Column("text", Text, nullable=False),
    Column("imported_by", String(64), nullable=False),
    Column("imported_at", String(40), nullable=False),
)

APPEND_ONLY_TABLES = ("events", "photos", "user_events", "formulary_versions")
