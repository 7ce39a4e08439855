"""No platform code leaves session state on a pooled connection, so pools skip asyncpg's reset.

`dialogkit.db.create_pool(keep_session=True)` releases connections without asyncpg's reset
query (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`). That is only safe while
no SQL of libs/ or services/ sets session-level state: SET without LOCAL (or set_config(...,
false)), LISTEN (or asyncpg's add_listener), session advisory locks (the `_xact_` variants end
with their transaction), cursors declared WITH HOLD. This scan names the file that does.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SESSION_STATE = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"(?:^|;)\s*SET\s+(?:SESSION\s+)?(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)"
        r"(?:[\w.\"]+\s*(?:TO\b|=)|ROLE\b|TIME\s+ZONE\b|SCHEMA\b|NAMES\b|AUTHORIZATION\b)",
        r"\bset_config\s*\([^;]*,\s*false\s*\)",
        r"(?:^|;)\s*LISTEN\s+[\w\"]+\s*(?:;|$)",
        r"\bpg_(?:try_)?advisory_lock(?:_shared)?\s*\(",
        r"\bDECLARE\b[^;]*\bWITH\s+HOLD\b",
    )
]

ALLOWED = {
    ("libs/dialogkit/dialogkit/db.py", "SELECT pg_advisory_lock($1)"): (
        "migrate() takes it on a connection of its own, closed when the migrations are done"
    ),
}


def sql_texts(path: Path) -> Iterator[str]:
    """The SQL a file may send: a .sql file whole; in Python, every string that is not a
    docstring (an f-string with `{}` for its expressions), and a call of add_listener."""
    if path.suffix == ".sql":
        yield path.read_text()
        return
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skipped.add(id(node.value))  # docstrings and other bare strings are not sent
        elif isinstance(node, ast.JoinedStr):
            skipped.update(id(v) for v in node.values)
            yield "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Attribute) and node.attr == "add_listener":
            yield "LISTEN add_listener"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in skipped
        ):
            yield node.value


def session_state_in(root: Path, folders: tuple[str, ...] = ("libs", "services")) -> list[str]:
    """`<file>: <statement>` for each statement under `root` that leaves session state."""
    found = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in (".py", ".sql") or ".venv" in path.parts:
                continue
            name = path.relative_to(root).as_posix()
            for text in sql_texts(path):
                if (name, text) in ALLOWED:
                    continue
                if any(p.search(text) for p in SESSION_STATE):
                    found.append(f"{name}: {text.strip()}")
    return found


def test_no_platform_sql_leaves_session_state_on_a_pooled_connection() -> None:
    scanned = list((ROOT / "services").rglob("*.sql"))
    assert len(scanned) > 10, "the migrations were found"
    assert session_state_in(ROOT) == []


def test_the_scan_names_each_kind_of_session_state_and_its_file(tmp_path: Path) -> None:
    code = tmp_path / "libs" / "pkg" / "store.py"
    code.parent.mkdir(parents=True)
    code.write_text(
        '"""Set up the store; SET search_path = x in a docstring is never sent."""\n'
        "async def run(db, table):\n"
        '    await db.execute("SET statement_timeout = 0")\n'
        '    await db.execute("SET LOCAL statement_timeout = 0")\n'
        "    await db.execute(\"SELECT set_config('app.user', $1, false)\")\n"
        "    await db.execute(\"SELECT set_config('app.user', $1, true)\")\n"
        '    await db.execute("LISTEN changes")\n'
        '    await db.execute("SELECT pg_advisory_lock(1)")\n'
        '    await db.execute("SELECT pg_try_advisory_xact_lock(1)")\n'
        '    await db.execute(f"UPDATE {table} SET x = 1")\n'
        '    await db.execute(f"SET search_path TO {table}")\n'
        "    await db.add_listener('changes', print)\n"
        '    raise ValueError("set auth_jwks_url or auth_public_key")\n'
    )
    migration = tmp_path / "services" / "svc" / "migrations" / "001_x.sql"
    migration.parent.mkdir(parents=True)
    migration.write_text(
        "CREATE TABLE t (x int);\nDECLARE c CURSOR WITH HOLD FOR SELECT 1;\nSET TIME ZONE 'UTC';"
    )
    (migration.parent / "002_y.sql").write_text(
        "UPDATE t SET x = 2;\nSET CONSTRAINTS ALL DEFERRED;"
    )
    assert session_state_in(tmp_path) == [
        "libs/pkg/store.py: SET search_path TO {}",
        "libs/pkg/store.py: LISTEN add_listener",
        "libs/pkg/store.py: SET statement_timeout = 0",
        "libs/pkg/store.py: SELECT set_config('app.user', $1, false)",
        "libs/pkg/store.py: LISTEN changes",
        "libs/pkg/store.py: SELECT pg_advisory_lock(1)",
        f"services/svc/migrations/001_x.sql: {migration.read_text()}",
    ]
