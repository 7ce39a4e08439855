"""The consent service's tables keyed by customer, declared once (see `dialogkit.lifecycle`)."""

from __future__ import annotations

from consentledger.projections import LEDGER_TABLES
from dialogkit.lifecycle import CustomerTables

CUSTOMER_TABLES = LEDGER_TABLES + CustomerTables(
    kept={
        "consent_state": "recomputed for the survivor and dropped for the duplicate on a merge",
        "consent_ledger": "each customer's signed chain stays as signed; the survivor's proof"
        " bundle carries its duplicates' chains",
        "consent_ledger_heads": "the signed head of each customer's own chain",
        "expiry_failures": "a failure of the duplicate's own state; the survivor's state"
        " changes on the merge, so the expiry job looks at it again",
    }
)
