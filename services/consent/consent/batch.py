"""Many eligibility questions in one request, for dispatchers and other systems.

Each answer has the shape of `GET /v1/customers/{id}/eligibility`'s, in the order asked. What
that route answers with a problem (an unknown customer: 404; a merged duplicate: 410 with
`merged_into`) is answered per question here, in `problem`, with `allowed` false, so that one
such customer does not fail the batch. An erased customer is answered as there: blocked with
`erased` from the erasure on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from consent import views
from consent.config import Settings
from consentledger.decisions import Question, decide
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
    # serialized once, as built: validating the answers again would cost a third of the time
    body = EligibilityAnswers.model_construct(answers=answers).model_dump_json()
    return Response(body, media_type="application/json")


async def answer(
    db: Connection,
    questions: list[EligibilityQuestion],
    now: datetime,
    expiry: timedelta,
) -> list[EligibilityAnswer]:
    """The answers in order: two queries whatever the number of questions."""
    owners = await survivors(db, (q.customer_id for q in questions))
    asked = [
        Question(q.customer_id, q.channel, q.purpose, q.at or now, q.product_category)
        for q in questions
    ]
    kept = [q for q in asked if owners[q.customer_id] == q.customer_id]
    decided = dict(zip(kept, await decide(db, kept, expiry), strict=True))
    found = []
    for q in asked:
        survivor = owners[q.customer_id]
        decision = decided.get(q)
        problem = None
        if survivor != q.customer_id:
            merged = merged_problem(q.customer_id, survivor)
            problem = ProblemDocument(
                title=merged.title,
                status=merged.status,
                detail=merged.detail,
                **merged.extensions,
            )
        elif decision is None:
            problem = ProblemDocument(
                title="Not found", status=404, detail=views.unknown(q.customer_id)
            )
        found.append(  # of values typed already: built without validating them again
            EligibilityAnswer.model_construct(
                customer_id=q.customer_id,
                channel=q.channel,
                purpose=q.purpose,
                at=q.at,
                allowed=decision is not None and decision.allowed,
                legal_basis=decision.legal_basis if decision else None,
                blocking_reason=decision.reason if decision else None,
                consent_id=decision.consent_id if decision else None,
                problem=problem,
            )
        )
    return found
