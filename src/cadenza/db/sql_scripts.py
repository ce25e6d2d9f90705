"""Multi-statement SQL scripts in migrations (tables, functions and triggers written as SQL)."""

from __future__ import annotations

import sqlite3

from alembic import op


def run_script(script: str) -> None:
    """Run `script` on the migration's connection. PostgreSQL takes it whole; SQLite's driver runs one
    statement at a time, and trigger bodies hold semicolons, so SQLite's own splitter
    (`complete_statement`) finds where each statement ends."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        bind.exec_driver_sql(script)
        return
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            op.execute(statement.strip())
            statement = ""
