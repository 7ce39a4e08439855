"""Many eligibility questions in one request, for dispatchers and other systems.

Each answer has the shape of `GET /v1/customers/{id}/eligibility`'s, in the order asked. What
that route answers with a problem (an unknown customer: 404; a merged duplicate: 410 with
`merged_into`) is answered per question here, in `problem`, with `allowed` false, so that one
such customer does not fail the batch. An erased customer is answered as there: blocked with
`erased` from the erasure on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from consent import views
from consent.config import Settings
from consentledger.decisions import Question, decide
from consentledger.eligibility import Decision
from consentledger.store import Connection
from dialog_schemas import CustomerId
from dialog_schemas.common import Channel, Instant, Label, Purpose
from dialogkit.auth import scope
from dialogkit.customers import merged_problem
from dialogkit.http import ApiRuntime, get_runtime
from dialogkit.merges import survivors
from dialogkit.problem_docs import PUBLISHES_NOTHING, ProblemDocument

router = APIRouter(prefix="/v1/eligibility", tags=["consent"])
Runtime = Annotated[ApiRuntime[Settings], Depends(get_runtime)]
MAX_QUESTIONS = 1000
"""Questions one request may ask; more is 422 naming `questions`."""


class EligibilityQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId
    channel: Channel
    purpose: Purpose
    at: Instant | None = None
    """The time asked about; now (the time the request is answered) without it."""
    product_category: Label | None = None


class EligibilityQuestions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    questions: Annotated[list[EligibilityQuestion], Field(min_length=1, max_length=MAX_QUESTIONS)]


class EligibilityAnswer(views.EligibilityView):
    problem: ProblemDocument | None = None
    """Set where the single route answers with a problem (404, 410 with `merged_into`)."""


class EligibilityAnswers(BaseModel):
    answers: list[EligibilityAnswer]


@router.post(
    "/batch",
    dependencies=[scope("consent:read")],
    response_model=EligibilityAnswers,
    openapi_extra=PUBLISHES_NOTHING,
)
async def batch_eligibility(batch: EligibilityQuestions, runtime: Runtime) -> Response:
    """Up to 1,000 questions "may we contact this customer on this channel for this purpose, now
    or at `at`, and why?", answered in order as the single eligibility route answers each."""
    answers = await answer(
        runtime.pool, batch.questions, datetime.now(UTC), runtime.settings.expiry
    )
    return Response(body(answers), media_type="application/json")


async def answer(
    db: Connection,
    questions: list[EligibilityQuestion],
    now: datetime,
    expiry: timedelta,
) -> list[dict[str, Any]]:
    """The answers in order, for `body` (`answer_of`): two queries whatever the number of
    questions."""
    owners = await survivors(db, (q.customer_id for q in questions))
    asked = [
        Question(q.customer_id, q.channel, q.purpose, q.at or now, q.product_category)
        for q in questions
    ]
    kept = [q for q in asked if owners[q.customer_id] == q.customer_id]
    decided = iter(await decide(db, kept, expiry))
    times: dict[tuple[datetime, timedelta | None], str] = {}
    found = []
    for q in asked:
        survivor = owners[q.customer_id]
        decision = next(decided) if survivor == q.customer_id else None
        found.append(answer_of(q, survivor, decision, times))
    return found


def body(answers: list[dict[str, Any]]) -> bytes:
    """The batch route's JSON body of these answers (`answer_of`): `EligibilityAnswers` as
    pydantic writes it, byte for byte, without building a model for each answer."""
    return orjson.dumps({"answers": answers})


_TIME = TypeAdapter(datetime)


def answer_of(
    question: Question,
    survivor: str,
    decision: Decision | None,
    times: dict[tuple[datetime, timedelta | None], str],
) -> dict[str, Any]:
    """One question's `EligibilityAnswer` as a dict for `body` (enums and UUIDs as they are,
    orjson writes them as pydantic does): `survivor` is the customer's (itself unless merged),
    `decision` None for a customer merged or never registered. `times` keeps each time as
    pydantic writes it, once per request: a batch's questions mostly share theirs (now)."""
    customer, at = question.customer_id, question.at
    key = (at, at.utcoffset())  # the same instant at another offset is written differently
    written = times.get(key)
    if written is None:
        written = times[key] = _TIME.dump_python(at, mode="json")
    problem = None
    if survivor != customer:
        merged = merged_problem(customer, survivor)
        problem = ProblemDocument(
            title=merged.title, status=merged.status, detail=merged.detail, **merged.extensions
        ).model_dump(mode="json")
    elif decision is None:
        problem = ProblemDocument(
            title="Not found", status=404, detail=views.unknown(customer)
        ).model_dump(mode="json")
    return {
        "customer_id": customer,
        "channel": question.channel,
        "purpose": question.purpose,
        "at": written,
        "allowed": decision is not None and decision.allowed,
        "legal_basis": decision and decision.legal_basis,
        "blocking_reason": decision and decision.reason,
        "consent_id": decision and decision.consent_id,
        "problem": problem,
    }
