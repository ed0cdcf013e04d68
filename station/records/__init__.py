"""The preparation record: append-only, tamper-evident events on SQLite or PostgreSQL."""
