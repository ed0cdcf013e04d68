"""Announce each new event: on PostgreSQL, ``NOTIFY station_events`` as it commits.

The payload is ``"<sequence> <preparation_id> <kind>"``. PostgreSQL delivers it only when the
appending transaction commits (nothing for one rolled back), to every session that has run
``LISTEN station_events`` (see station.records.live). A notification is a hint to look, never
the record: a listener that reconnects can miss some, so it always reads the events table.
SQLite has no notifications; its readers poll, and this revision changes nothing there.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CHANNEL = "station_events"

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION station_notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}',
                      NEW.sequence::text || ' ' || NEW.preparation_id || ' ' || NEW.kind);
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    """On PostgreSQL, notify ``station_events`` after every insert into ``events``."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_PG_FUNCTION)
    op.execute("CREATE TRIGGER events_notify AFTER INSERT ON events "
               "FOR EACH ROW EXECUTE FUNCTION station_notify_event()")


def downgrade() -> None:
    """Stop notifying (no recorded data is touched)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS events_notify ON events")
    op.execute("DROP FUNCTION IF EXISTS station_notify_event()")
