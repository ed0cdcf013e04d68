"""The order book: ``order_events``, every order message received, append-only.

The database refuses UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) on it, as on the
tables of revision 0001.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

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
    if bind.dialect.name == "postgresql":
        # station_refuse_change() comes from revision 0001.
        op.execute(f"CREATE TRIGGER {_TABLE}_append_only BEFORE UPDATE OR DELETE ON {_TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION station_refuse_change()")
        op.execute(f"CREATE TRIGGER {_TABLE}_no_truncate BEFORE TRUNCATE ON {_TABLE} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION station_refuse_change()")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {_TABLE}_no_{action.lower()} BEFORE {action} ON {_TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{action} on {_TABLE} refused: the record is "
                "append-only'); END"
            )


def downgrade() -> None:
    """Refused: a record is never dropped."""
    raise RuntimeError("the record is append-only; there is no downgrade")
