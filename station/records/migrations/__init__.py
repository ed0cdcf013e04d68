"""Alembic migrations of the record's schema (run through ``station db upgrade``)."""
