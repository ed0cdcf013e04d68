"""The recall list, the imported FDA NDC Directory and opened vials, all append-only.

- ``recall_events``: a lot of an NDC added to or withdrawn from the pharmacy's recall list;
- ``ndc_directory``: the rows of each imported FDA NDC Directory package file (the newest
  import batch is the directory in use);
- ``opened_vial_events``: a vial opened (first puncture), drawn from, or discarded.

Like every table of the record, the database refuses UPDATE and DELETE on them (and, on
PostgreSQL, TRUNCATE), with the same triggers as revision 0001.

Revision ID: 0004
Revises: 0002 (a branch of its own: the migrator upgrades to all heads)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from station.records.append_only import make_append_only

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("recall_events", "ndc_directory", "opened_vial_events")


def _id() -> sa.Column[int]:
    # SQLite numbers rows itself only for a column declared exactly INTEGER PRIMARY KEY.
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                     primary_key=True, autoincrement=True)


def upgrade() -> None:
    """Create the three tables and the triggers that keep them append-only."""
    op.create_table(
        "recall_events",
        _id(),
        sa.Column("ndc_key", sa.String(12), nullable=False, index=True),
        sa.Column("ndc", sa.String(16), nullable=False),
        sa.Column("lot", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "ndc_directory",
        _id(),
        sa.Column("import_batch", sa.Integer, nullable=False, index=True),
        sa.Column("ndc_key", sa.String(12), nullable=False, index=True),
        sa.Column("ndc", sa.String(16), nullable=False),
        sa.Column("ndc10", sa.String(10), nullable=True, index=True),
        sa.Column("product_id", sa.String(128), nullable=False),
        sa.Column("product_name", sa.Text, nullable=False),
        sa.Column("labeler", sa.Text, nullable=False),
        sa.Column("package_description", sa.Text, nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("imported_by", sa.String(64), nullable=False),
        sa.Column("imported_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "opened_vial_events",
        _id(),
        sa.Column("vial_key", sa.String(80), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
    )
    make_append_only(op, TABLES)


def downgrade() -> None:
    """Refused: a record is never dropped."""
    raise RuntimeError("the record is append-only; there is no downgrade")
