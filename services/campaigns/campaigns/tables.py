"""The campaigns service's tables keyed by customer, declared once (`dialogkit.lifecycle`)."""

from __future__ import annotations

from consentledger.projections import LEDGER_TABLES
from dialogkit.lifecycle import CustomerTables

CUSTOMER_TABLES = LEDGER_TABLES + CustomerTables(
    merged=(
        "outreach",
        "dispatched_outreach",  # a duplicate's dispatched outreach counts for its survivor
        # a column unique per customer: a duplicate's row the survivor already has is the same
        ("audience_holdings", "item_id"),
        ("audience_touches", "touch"),
        "customer_contacts",
        "outreach_due",
    ),
    kept={
        "audience_facts": "folded into the survivor's row by the facts projections",
        "trigger_cooldowns": "triggers are planned for the survivor; a duplicate's row stays",
    },
)
