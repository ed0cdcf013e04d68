"""The database's own refusal to change the record: one definition for every table.

Each migration that adds a table calls :func:`make_append_only` on it, so every table is
protected the same way: on SQLite, triggers that abort UPDATE and DELETE; on PostgreSQL, row
triggers for UPDATE and DELETE and a statement trigger for TRUNCATE, all calling
``station_refuse_change()`` (created once, by revision 0001).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION station_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on % refused: the record is append-only', TG_OP, TG_TABLE_NAME;
END
$$
"""


def trigger_statements(dialect: str, table: str) -> list[str]:
    """The statements that make ``table`` append-only on ``dialect``."""
    if dialect == "postgresql":
        return [
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION station_refuse_change()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION station_refuse_change()",
        ]
    return [
        f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{action} on {table} refused: the record is "
        "append-only'); END"
        for action in ("UPDATE", "DELETE")
    ]


def make_append_only(op: Any, tables: Iterable[str]) -> None:
    """Within a migration (``op`` is alembic's), protect ``tables``."""
    dialect = op.get_bind().dialect.name
    for table in tables:
        for statement in trigger_statements(dialect, table):
            op.execute(statement)
