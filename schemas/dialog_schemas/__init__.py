"""Event contracts of the customer-dialog platform: the source the JSON Schemas derive from."""

from dialog_schemas.envelope import CONTENT_TYPE, CustomerId, Envelope, Event

__all__ = ["CONTENT_TYPE", "CustomerId", "Envelope", "Event"]
