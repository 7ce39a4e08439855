"""Event contracts of the customer-dialog platform: the source the JSON Schemas derive from."""

from dialog_schemas.envelope import CONTENT_TYPE, CustomerId, Envelope, Event
from dialog_schemas.personal import PERSONAL, Personal, personal_fields

__all__ = [
    "CONTENT_TYPE",
    "PERSONAL",
    "CustomerId",
    "Envelope",
    "Event",
    "Personal",
    "personal_fields",
]
