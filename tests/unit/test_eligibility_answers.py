"""The batch route writes its answers without a model for each: the bytes are those pydantic
writes for `EligibilityAnswers`, whatever the question, time, offset, decision or problem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from consent import views
from consent.batch import EligibilityAnswer, EligibilityAnswers, answer_of, body
from consentledger.decisions import Question
from consentledger.eligibility import Decision
from dialog_schemas.common import BlockReason, Channel, LegalBasis, Purpose
from dialogkit.customers import merged_problem
from dialogkit.problem_docs import ProblemDocument

customers = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:-]{0,20}\Z")
offsets = st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23)).map(timezone)
times = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)),
    st.datetimes(min_value=datetime(2000, 1, 1), timezones=offsets),
)
questions = st.builds(
    Question,
    customers,
    st.sampled_from(list(Channel)),
    st.sampled_from(list(Purpose)),
    times,
    st.none() | st.text(min_size=1, max_size=10),
)
decisions = st.none() | st.builds(
    Decision,
    st.booleans(),
    st.none() | st.sampled_from(list(LegalBasis)),
    st.none() | st.sampled_from(list(BlockReason)),
    st.none() | st.uuids(),
)
cases = st.tuples(questions, st.none() | customers, decisions)


def model(question: Question, survivor: str, decision: Decision | None) -> EligibilityAnswer:
    """The answer as the route built it before: the model, validated."""
    problem = None
    if survivor != question.customer_id:
        merged = merged_problem(question.customer_id, survivor)
        problem = ProblemDocument(
            title=merged.title, status=merged.status, detail=merged.detail, **merged.extensions
        )
    elif decision is None:
        problem = ProblemDocument(
            title="Not found", status=404, detail=views.unknown(question.customer_id)
        )
    return EligibilityAnswer(
        customer_id=question.customer_id,
        channel=question.channel,
        purpose=question.purpose,
        at=question.at,
        allowed=decision is not None and decision.allowed,
        legal_basis=decision.legal_basis if decision else None,
        blocking_reason=decision.reason if decision else None,
        consent_id=decision.consent_id if decision else None,
        problem=problem,
    )


@given(st.lists(cases, min_size=1, max_size=20))
def test_the_answers_are_written_as_pydantic_writes_the_model(
    asked: list[tuple[Question, str | None, Decision | None]],
) -> None:
    times: dict[tuple[datetime, timedelta | None], str] = {}
    built, expected = [], []
    for question, merged_into, decision in asked:
        survivor = merged_into or question.customer_id
        decided = decision if survivor == question.customer_id else None
        built.append(answer_of(question, survivor, decided, times))
        expected.append(model(question, survivor, decided))
    assert body(built) == EligibilityAnswers(answers=expected).model_dump_json().encode()


def test_one_instant_at_two_offsets_is_written_at_each_its_own() -> None:
    utc = datetime(2026, 2, 1, 10, tzinfo=UTC)
    plus_one = utc.astimezone(timezone(timedelta(hours=1)))
    times: dict[tuple[datetime, timedelta | None], str] = {}
    first, second = (
        answer_of(Question("c-1", Channel.EMAIL, Purpose.MARKETING, at), "c-1", None, times)
        for at in (utc, plus_one)
    )
    assert (first["at"], second["at"]) == ("2026-02-01T10:00:00Z", "2026-02-01T11:00:00+01:00")
