"""A customer's facts as the read model's row gives them are decoded once (`CustomerFacts`)
and applied to the folded consent history as they stood at each time asked about."""

from __future__ import annotations

from datetime import timedelta

import orjson

from consentledger.domain import ConsentState
from consentledger.facts import CustomerFacts
from dialog_schemas.common import Channel, CustomerKind
from tests.unit.test_consent_rules import T0

REGISTERED = T0 - timedelta(days=30)
CORRECTED = T0 + timedelta(days=5)
ERASED = T0 + timedelta(days=9)


def row(**changes: object) -> dict[str, object]:
    found: dict[str, object] = {
        "registered_at": REGISTERED,
        "suppressed_channels": ["sms"],
        "erased_at": ERASED,
        "kinds": ["consumer", "business"],
        "kinds_since": [REGISTERED, CORRECTED],
        "purchases": orjson.dumps(
            [["p-1", "internet", T0, True, True], ["p-2", "mobile", CORRECTED, True, False]]
        ).decode(),
    }
    return found | changes


def test_the_row_is_decoded_into_typed_facts() -> None:
    facts = CustomerFacts.of(row())
    assert facts.suppressed == {Channel.SMS: REGISTERED}
    assert facts.kinds == ((CustomerKind.CONSUMER, REGISTERED), (CustomerKind.BUSINESS, CORRECTED))
    assert [(p.purchase_id, p.purchased_at, p.objection_notice_given) for p in facts.purchases] == [
        ("p-1", T0, True),
        ("p-2", CORRECTED, False),
    ]
    empty = CustomerFacts.of(row(purchases=None, kinds=[], kinds_since=[]))
    assert (empty.kinds, empty.purchases) == ((), ())


def test_facts_apply_as_they_stood_at_the_time_asked_about() -> None:
    facts = CustomerFacts.of(row())
    now = facts.applied(ConsentState(), None)
    assert (now.kind, len(now.purchases), now.erased_at) == (CustomerKind.BUSINESS, 2, ERASED)
    assert now.suppressed == {Channel.SMS: REGISTERED}
    then = facts.applied(ConsentState(), T0)
    assert (then.kind, [p.category for p in then.purchases]) == (
        CustomerKind.CONSUMER,
        ["internet"],
    )
    before = facts.applied(ConsentState(), REGISTERED - timedelta(days=1))
    assert (before.kind, before.purchases, dict(before.suppressed)) == (None, (), {})
    assert before.erased_at == ERASED  # the rules compare it with the time asked about


def test_a_suppression_in_the_history_is_kept_over_the_registration_time() -> None:
    history = ConsentState(suppressed={Channel.SMS: T0, Channel.EMAIL: CORRECTED})
    state = CustomerFacts.of(row()).applied(history, None)
    assert state.suppressed == {Channel.SMS: T0, Channel.EMAIL: CORRECTED}
    assert history.suppressed == {Channel.SMS: T0, Channel.EMAIL: CORRECTED}  # not changed
