"""`POST /v1/eligibility/batch`: many questions, answered in order as the single route answers
each; a merged or unknown customer is answered per question, not by failing the batch."""

from __future__ import annotations

from typing import Any

from consent.batch import MAX_QUESTIONS
from consent.bootstrap import DEFINITION
from tests.fakes import client_of, fake_app
from tests.support import token

AT = "2026-02-01T10:00:00Z"


def ask(customer: str, channel: str = "email", purpose: str = "marketing") -> dict[str, Any]:
    return {"customer_id": customer, "channel": channel, "purpose": purpose, "at": AT}


async def test_answers_come_in_order_each_as_the_single_route_answers_it() -> None:
    app, fakes = fake_app(DEFINITION)
    fakes.pool.register("known-1")
    fakes.pool.register("known-2")
    fakes.pool.merges["dup-1"] = "known-1"
    fakes.pool.unknown.add("nobody-1")
    questions = [
        ask("known-1"),
        ask("dup-1"),
        ask("known-2", "letter", "surveys"),
        ask("nobody-1"),
        ask("known-1", "phone", "service"),
    ]
    async with client_of(app) as client:
        response = await client.post("/v1/eligibility/batch", json={"questions": questions})
        assert response.status_code == 200
        answers = response.json()["answers"]
        assert [(a["customer_id"], a["channel"]) for a in answers] == [
            (q["customer_id"], q["channel"]) for q in questions
        ]
        for question, answer in zip(questions, answers, strict=True):
            single = await client.get(
                f"/v1/customers/{question['customer_id']}/eligibility",
                params={k: v for k, v in question.items() if k != "customer_id"},
            )
            problem = answer["problem"]
            if single.status_code == 200:
                assert problem is None
                assert {k: v for k, v in answer.items() if k != "problem"} == single.json()
            else:
                assert not answer["allowed"]
                body = single.json()
                assert (problem["status"], problem["title"], problem["detail"]) == (
                    body["status"],
                    body["title"],
                    body["detail"],
                )
                assert problem.get("merged_into") == body.get("merged_into")
    statuses = [a["problem"] and a["problem"]["status"] for a in answers]
    assert statuses == [None, 410, None, 404, None]
    assert answers[1]["problem"]["merged_into"] == "known-1"
    assert answers[0]["blocking_reason"] == "pending_confirmation"
    assert answers[4]["legal_basis"] == "not_advertising"


async def test_a_question_without_a_time_is_about_now() -> None:
    app, fakes = fake_app(DEFINITION)
    fakes.pool.register("known-1")
    question = {"customer_id": "known-1", "channel": "letter", "purpose": "marketing"}
    async with client_of(app) as client:
        response = await client.post("/v1/eligibility/batch", json={"questions": [question]})
    [answer] = response.json()["answers"]
    assert answer["allowed"]
    assert answer["legal_basis"] == "letter_without_objection"
    assert answer["at"] > AT


async def test_more_questions_than_one_request_takes_is_422_naming_the_field() -> None:
    app, _ = fake_app(DEFINITION)
    async with client_of(app) as client:
        too_many = {"questions": [ask(f"c-{n}") for n in range(MAX_QUESTIONS + 1)]}
        response = await client.post("/v1/eligibility/batch", json=too_many)
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["body.questions"]
        empty = await client.post("/v1/eligibility/batch", json={"questions": []})
        assert empty.status_code == 422
        wrong = await client.post(
            "/v1/eligibility/batch", json={"questions": [ask("c-1", channel="pigeon")]}
        )
        assert wrong.status_code == 422
        assert [e["field"] for e in wrong.json()["errors"]] == ["body.questions.0.channel"]


async def test_the_batch_needs_the_read_scope_as_the_single_route_does() -> None:
    app, fakes = fake_app(DEFINITION)
    fakes.pool.register("known-1")
    async with client_of(app) as client:
        body = {"questions": [ask("known-1")]}
        refused = await client.post(
            "/v1/eligibility/batch", json=body, headers=token("consent:write")
        )
        assert refused.status_code == 403
        allowed = await client.post(
            "/v1/eligibility/batch", json=body, headers=token("consent:read")
        )
        assert allowed.status_code == 200


async def test_a_full_batch_of_the_longest_questions_fits_the_body_limit() -> None:
    app, fakes = fake_app(DEFINITION)
    longest = {
        "customer_id": "c" * 64,
        "channel": "email",
        "purpose": "cross_sell",
        "at": "2026-02-01T10:00:00.123456+01:00",
        "product_category": "p" * 200,
    }
    fakes.pool.register(longest["customer_id"])
    async with client_of(app) as client:
        body = {"questions": [longest] * MAX_QUESTIONS}
        response = await client.post("/v1/eligibility/batch", json=body)
    assert response.status_code == 200
    assert len(response.json()["answers"]) == MAX_QUESTIONS
