"""Every table with a customer id column is declared: it follows a merge, or stays with a reason."""

from __future__ import annotations

import re

import pytest

from devstack.stack import definitions
from dialogkit.db import migration_files, with_requirements
from dialogkit.lifecycle import CustomerTables
from dialogkit.merges import Table
from dialogkit.publishing import FakePublisher
from dialogkit.service import ServiceDefinition

CREATE = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)\s*\((.*?)\n\);", re.S | re.I)
CUSTOMER_COLUMN = re.compile(r"^\s*(customer_id|subject)\s", re.M)


def customer_keyed_tables(sql: str) -> set[str]:
    """Tables a migration creates with a customer id column (`customer_id` or `subject`)."""
    return {name for name, body in CREATE.findall(sql) if CUSTOMER_COLUMN.search(body)}


def test_a_table_with_a_customer_id_column_is_found() -> None:
    sql = "CREATE TABLE notes (\n    customer_id text NOT NULL,\n    body text\n);"
    assert customer_keyed_tables(sql) == {"notes"}
    assert customer_keyed_tables("CREATE TABLE t (\n    id text\n);") == set()


def test_an_undeclared_customer_table_is_named() -> None:
    declared = CustomerTables(merged=("timeline_entries",), kept={"erased_customers": "why"})
    assert {"notes", "timeline_entries"} - declared.names() == {"notes"}


@pytest.mark.parametrize("definition", definitions(), ids=lambda d: d.name)
def test_every_customer_keyed_table_of_a_service_is_declared(
    definition: ServiceDefinition,  # type: ignore[type-arg]
) -> None:
    found = {
        table
        for package in with_requirements([definition.migrations_package])
        for _, sql in migration_files(package)
        for table in customer_keyed_tables(sql)
    }
    undeclared = sorted(found - definition.customer_tables.names())
    assert undeclared == [], (
        f"{definition.name}: tables keyed by customer that no declaration names: {undeclared};"
        " add each to the ServiceDefinition's customer_tables, as merged or kept with a reason"
    )
    assert all(reason for reason in definition.customer_tables.kept.values())


@pytest.mark.parametrize("definition", definitions(), ids=lambda d: d.name)
def test_the_runner_follows_merges_in_every_declared_table_for_each_customer_projection(
    definition: ServiceDefinition,  # type: ignore[type-arg]
) -> None:
    """A projection keeping customer-keyed rows names its service's one declaration, so the
    runner re-keys every merged table of the service whichever projection reads a merge."""
    projections = definition.projections(definition.settings(), FakePublisher())
    keeping = {p.name: getattr(p, "customer_tables", None) for p in projections}
    assert any(tables is not None for tables in keeping.values())
    assert {
        name: tables
        for name, tables in keeping.items()
        if tables is not None and tables != definition.customer_tables
    } == {}


@pytest.mark.parametrize("definition", definitions(), ids=lambda d: d.name)
def test_personal_columns_and_the_erasures_table_are_declared_tables(
    definition: ServiceDefinition,  # type: ignore[type-arg]
) -> None:
    tables = definition.customer_tables
    assert set(tables.personal) <= tables.names()
    assert tables.erasures is None or tables.erasures in tables.kept


def test_personal_columns_need_a_table_of_erasures() -> None:
    with pytest.raises(ValueError, match="erasures"):
        CustomerTables(merged=("notes",), personal={"notes": ("text",)})


@pytest.mark.parametrize("merged", [("erased", "notes"), (("erased", "customer_id"),)])
def test_the_table_of_erasures_cannot_follow_merges(merged: tuple[Table, ...]) -> None:
    with pytest.raises(ValueError, match="cannot be merged"):
        CustomerTables(merged=merged, personal={"notes": ("text",)}, erasures="erased")
