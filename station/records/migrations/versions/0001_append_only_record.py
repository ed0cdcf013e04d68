"""The append-only record: events, photos, user history, formulary versions.

The database itself refuses UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) on every table.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

from station.records.append_only import REFUSE_FUNCTION, make_append_only
from station.records.schema import APPEND_ONLY_TABLES, metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

def upgrade() -> None:
    """Create the tables and the triggers that keep them append-only."""
    bind = op.get_bind()
    metadata.create_all(bind=bind)
    if bind.dialect.name == "postgresql":
        op.execute(REFUSE_FUNCTION)
    make_append_only(op, APPEND_ONLY_TABLES)


def downgrade() -> None:
    """Refused: a record is never dropped."""
    raise RuntimeError("the record is append-only; there is no downgrade")
