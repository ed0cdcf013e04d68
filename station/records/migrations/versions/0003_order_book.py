"""The order book: ``order_events``, every order message received, append-only.

The database refuses UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) on it, as on the
tables of revision 0001.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

from station.records.append_only import make_append_only
from station.records.order_book import order_events

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TABLE = "order_events"


def upgrade() -> None:
    """Create ``order_events`` and the triggers that keep it append-only."""
    bind = op.get_bind()
    order_events.create(bind=bind, checkfirst=True)
    make_append_only(op, [_TABLE])


def downgrade() -> None:
    """Refused: a record is never dropped."""
    raise RuntimeError("the record is append-only; there is no downgrade")
