import orjson

from dialogkit import metrics
from dialogkit.codec import DecodeError
from dialogkit.deadletters import DEAD_LETTERS_TOTAL, DeadLetters
from dialogkit.publishing import FakePublisher
from dialogkit.records import SourceRecord


async def test_a_dead_letter_keeps_the_original_record_and_says_why() -> None:
    publisher = FakePublisher()
    record = SourceRecord("t.v1", 3, 41, b"c-1", b"\xffnot json", (("trace", b"abc"),))
    before = metrics.value(DEAD_LETTERS_TOTAL, consumer="p", topic="t.v1", reason="not_json")

    await DeadLetters(publisher, "t.deadletter.v1", "p").send(
        record, DecodeError("not_json", "unexpected byte")
    )

    [(key, value, headers)] = publisher.raw["t.deadletter.v1"]
    assert (key, value) == (b"c-1", b"\xffnot json")
    found = dict(headers)
    assert found["dlq_reason"] == b"not_json"
    assert orjson.loads(found["dlq_detail"]) == "unexpected byte"
    assert (found["dlq_source_topic"], found["dlq_source_partition"]) == (b"t.v1", b"3")
    assert found["dlq_source_offset"] == b"41"
    assert found["trace"] == b"abc"
    after = metrics.value(DEAD_LETTERS_TOTAL, consumer="p", topic="t.v1", reason="not_json")
    assert after == before + 1


def test_counters_are_exposed_in_prometheus_format() -> None:
    metrics.increment("dialog_test_total", 2, topic="a")
    assert 'dialog_test_total{topic="a"} 2' in metrics.exposition()
