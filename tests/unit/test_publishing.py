"""The Kafka publisher's edge cases that need no broker."""

from dialogkit.publishing import KafkaPublisher


async def test_publishing_nothing_returns_at_once_without_a_broker() -> None:
    """A periodic job with nothing to report publishes an empty list; that is no error."""
    await KafkaPublisher("127.0.0.1:1", client_id="t").publish("t", [])
