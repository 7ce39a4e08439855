"""The contacts service's tables keyed by customer, declared once (`dialogkit.lifecycle`)."""

from __future__ import annotations

from dialogkit.lifecycle import CustomerTables

CUSTOMER_TABLES = CustomerTables(
    merged=("customer_products",),
    kept={
        "profiles": "the duplicate's row stays, emptied, naming its survivor (410 Merged)",
        "contact_points": "the survivor's profile takes the duplicate's contact points",
        "data_keys": "a duplicate's events stay sealed with its own key",
        "audit_trail": "who accessed which id's data, as it was recorded at the time",
    },
)
