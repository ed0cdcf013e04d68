"""The append-only record: events, photos, user history, formulary versions.

The database itself refuses UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) on every table.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

from station.records.schema import APPEND_ONLY_TABLES, metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION station_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: the record is append-only', TG_OP, TG_TABLE_NAME;
END
$$
"""


def upgrade() -> None:
    """Create the tables and the triggers that keep them append-only."""
    bind = op.get_bind()
    metadata.create_all(bind=bind)
    if bind.dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for table in APPEND_ONLY_TABLES:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION station_refuse_change()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION station_refuse_change()")
    else:
        for table in APPEND_ONLY_TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{action} on {table} refused: the record is "
                    "append-only'); END"
                )


def downgrade() -> None:
    """Refused: a record is never dropped."""
    raise RuntimeError("the record is append-only; there is no downgrade")
