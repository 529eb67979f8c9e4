"""Every SQL statement lives in `erpsync/db/`, beside the typed function that runs it: the stages call
those functions, so a statement and the code that depends on its columns are read and changed together."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import erpsync

PACKAGE = Path(erpsync.__file__).parent
# Statements are written in capitals here; "Create or replace …" in a help text is not one.
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|TRUNCATE|SET LOCAL|ALTER|LOCK|COPY|DROP)\b")
DATABASE_CALLS = frozenset(
    {"fetch", "fetchval", "fetchrow", "executemany", "copy_records_to_table", "copy_to_table", "cursor"}
)


def _outside_db() -> list[Path]:
    return [path for path in PACKAGE.rglob("*.py") if PACKAGE / "db" not in path.parents]


def test_no_module_outside_db_holds_a_statement() -> None:
    found = []
    for path in _outside_db():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value.strip()[:60]!r}")
    assert found == []


def test_no_module_outside_db_runs_a_statement() -> None:
    """`conn.fetch(...)` and its kin appear only in `db/` (`execute` is also the Shopify client's verb)."""
    found = []
    for path in _outside_db():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            target = ast.unparse(node.func.value)
            verb = node.func.attr
            if verb in DATABASE_CALLS or (
                verb == "execute" and re.search(r"\b(conn|pool|connection)\b", target)
            ):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node)[:70]}")
    assert found == []
