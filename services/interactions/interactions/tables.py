"""The interactions service's tables keyed by customer, declared once (`dialogkit.lifecycle`)."""

from __future__ import annotations

from consentledger.projections import LEDGER_TABLES
from dialogkit.lifecycle import CustomerTables

CUSTOMER_TABLES = LEDGER_TABLES + CustomerTables(
    # a duplicate's entry the survivor already has (the same event id) is the same entry
    merged=(("timeline_entries", "entry_id"), "compliance_checks", "compliance_findings"),
    kept={"erased_customers": "the fact that an id was erased, whoever it was merged into"},
    # an erased customer's timeline keeps what happened, not what they said or wrote
    personal={"timeline_entries": ("note", "answer")},
    erasures="erased_customers",
)
