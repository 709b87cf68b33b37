"""Concurrent POST /v1/enrich/lead end to end, where the enrichment service coalesces the stage
calls of concurrent requests (providers, verifier, intent, scoring, billing and the record insert
go out as one merged call per account and options): every caller still gets its own answer, is
charged for its own lead only, once, and a failing stage fails or degrades only what it should.

The tests run with every stage coalesced at limits 2 and 1 (at 1, every call made while another
of its kind is in flight waits and goes out merged: the strongest check that merged results are
split back to the right caller; the last test shows that they are merged then), and with the
default stages."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.common.v1 import common_pb2 as common
from leadmesh.enrichment.v1 import enrichment_service_pb2 as enrichment_pb
from libs.mongo import Document
from services.enrichment.downstream import STAGES
from tests.metric_points import points_where
from tests.services.enrichment.mesh import Mesh, running_mesh

NOT_FOUND = {"email": "nobody@unknown-corp.com"}
# Leads of the test directory, each answered differently: valid, invalid (no such mailbox) and
# catch-all addresses, a name with a company, a LinkedIn profile without email, a company alone
# (its contacts ranked by ICP), and one nobody knows (free).
ONE_CREDIT_LEADS: list[dict[str, Any]] = [
    {"email": "mike.chen@techflow.io"},
    {"email": "ana@techflow.io"},
    {"email": "raj@techflow.io"},
    {"email": "john.smith@globex.com"},
    {"first_name": "Lena", "last_name": "Berg", "company": "TechFlow"},
    {"name": "Tom Ng", "company_domain": "techflow.io"},
    {"linkedin_url": "https://www.linkedin.com/in/priyanair"},
    NOT_FOUND,
    {"domain": "techflow.io"},
    {"email": "jsmith2@globex.com"},
    {"domain": "globex.com"},
]
# Other options, so other merged calls: the phone is looked up and paid for (11 credits).
WITH_PHONE = {"email": "mike.chen@techflow.io", "fields": ["person", "phone"]}
LEADS = [*ONE_CREDIT_LEADS, WITH_PHONE]
# Leads with an email address (a company's contacts all have one).
EMAIL_LEADS = [lead for lead in ONE_CREDIT_LEADS if lead != NOT_FOUND and "linkedin_url" not in lead]
# A profile that scores the test directory unlike the default one.
OTHER_PROFILE: dict[str, Any] = {
    "seniorities": {"values": ["c_level"], "weight": 60},
    "departments": {"values": ["engineering"], "weight": 40},
    "company_sizes": {"values": ["10001+"], "weight": 0},
    "tiers": {"high_priority": 90, "nurture": 30},
}
COALESCED = "leadmesh.coalesced.items"


@pytest_asyncio.fixture(
    params=[(2, STAGES), (1, STAGES), (1, None)], ids=["limit-2", "limit-1", "default-stages"]
)
async def mesh(
    request: pytest.FixtureRequest, db: AsyncDatabase[Document], amqp_url: str
) -> AsyncIterator[Mesh]:
    """Every stage coalesced (the strongest test of splitting merged answers back), and the
    default stages."""
    limit, stages = request.param
    settings: dict[str, object] = {"enrichment_coalesce_limit": limit}
    if stages is not None:
        settings["enrichment_coalesce_stages"] = stages
    async with running_mesh(db, amqp_url, enrichment_settings=settings) as running:
        yield running


def auth(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


async def enrich(mesh: Mesh, key: str, body: dict[str, Any], **headers: str) -> Any:
    return await mesh.http.post("/v1/enrich/lead", json=body, headers=auth(key, **headers))


async def at_once(
    mesh: Mesh, key: str, bodies: list[dict[str, Any]], keys: list[str] | None = None
) -> list[Any]:
    """The bodies sent all at once (with their Idempotency-Keys, if given), answers in order."""
    headers = [{"Idempotency-Key": k} for k in keys] if keys else [{} for _ in bodies]
    return list(
        await asyncio.gather(*(enrich(mesh, key, b, **h) for b, h in zip(bodies, headers, strict=True)))
    )


def _person(lead: dict[str, Any]) -> dict[str, Any]:
    """The lead without its intent signals' strengths and times (they decay between answers)."""
    return {k: v for k, v in lead.items() if k != "intent_signal_details"}


def view(answer: dict[str, Any]) -> dict[str, Any]:
    """What a caller reads in an answer, without its id and timestamps."""
    meta = {k: v for k, v in answer["meta"].items() if k != "enriched_at"}
    return {
        "status": answer["status"],
        "lead": _person(answer["lead"]),
        "contacts": [_person(c) for c in answer.get("contacts", [])],
        "meta": meta,
    }


async def alone(mesh: Mesh, key: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The view of each body's answer, sent one after the other."""
    views = []
    for body in bodies:
        response = await enrich(mesh, key, body)
        assert response.status_code == 200, response.text
        views.append(view(response.json()))
    return views


async def ledger(mesh: Mesh, key: str) -> list[dict[str, Any]]:
    response = await mesh.http.get("/v1/credits", params={"page_size": 100}, headers=auth(key))
    assert response.status_code == 200, response.text
    assert response.json()["next_page_token"] is None
    entries: list[dict[str, Any]] = response.json()["ledger"]
    return entries


def charges(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry["type"] == "charge"]


def assert_same_answers(responses: list[Any], expected: list[dict[str, Any]]) -> None:
    for n, (response, wanted) in enumerate(zip(responses, expected, strict=True)):
        assert response.status_code == 200, (n, response.text)
        assert view(response.json()) == wanted, n


async def test_concurrent_requests_each_get_the_answer_they_get_alone(mesh: Mesh) -> None:
    _, first_key = await mesh.new_account(credits=1_000)
    expected = await alone(mesh, first_key, LEADS)
    assert [v["lead"]["email_status"] for v in expected[:4]] == ["valid", "valid", "invalid", "catch-all"]
    assert expected[LEADS.index(NOT_FOUND)]["status"] == "not_found"
    assert len(expected[LEADS.index({"domain": "techflow.io"})]["contacts"]) == 5
    assert expected[LEADS.index(WITH_PHONE)]["lead"]["phone"] == "+16505550173"

    account, key = await mesh.new_account(credits=1_000)
    burst = [*LEADS, *reversed(LEADS)]
    responses = await at_once(mesh, key, burst)
    assert_same_answers(responses, [*expected, *reversed(expected)])
    assert len({r.json()["id"] for r in responses}) == len(burst)
    # Each charged its own price (11 with the phone), once, for its own record.
    price = {f"enrichment {r.json()['id']}": r.json()["meta"]["credits_used"] for r in responses}
    charged = {e["description"]: -e["amount"] for e in charges(await ledger(mesh, key))}
    assert charged == {record: credits for record, credits in price.items() if credits}
    assert await mesh.balance(account) == 1_000 - sum(price.values())


async def test_concurrent_found_leads_are_charged_one_credit_each_once(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=100)
    burst = ONE_CREDIT_LEADS * 2
    responses = await at_once(mesh, key, burst)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    bodies = [r.json() for r in responses]
    found = [(b, r) for b, r in zip(bodies, responses, strict=True) if b["status"] == "completed"]
    assert len(found) == len(burst) - 2  # all but the two unknown addresses
    assert all(b["meta"]["credits_used"] == 1 for b, _ in found)
    assert all(b["meta"]["credits_used"] == 0 for b in bodies if b["status"] == "not_found")
    assert await mesh.balance(account) == 100 - len(found)

    # Each found lead's answer tells the balance right after its own charge: all different.
    remaining = sorted(int(r.headers["X-Credits-Remaining"]) for _, r in found)
    assert remaining == list(range(100 - len(found), 100))
    for body, response in zip(bodies, responses, strict=True):
        if body["status"] == "not_found":
            assert 100 - len(found) <= int(response.headers["X-Credits-Remaining"]) <= 100

    charged = charges(await ledger(mesh, key))
    assert len(charged) == len(found)
    assert all(entry["amount"] == -1 for entry in charged)
    assert sorted(entry["balance_after"] for entry in charged) == remaining
    assert len({entry["idempotency_key"] for entry in charged}) == len(found)
    assert sorted(entry["description"] for entry in charged) == sorted(
        f"enrichment {b['id']}" for b, _ in found
    )


async def test_only_as_many_concurrent_leads_as_credits_go_through(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=5)
    burst = [lead for lead in ONE_CREDIT_LEADS if lead != NOT_FOUND]
    keys = [f"short-{n}" for n in range(len(burst))]
    responses = await at_once(mesh, key, burst, keys)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 5, 402: len(burst) - 5}, [r.text for r in responses]
    paid = {k: r for k, r in zip(keys, responses, strict=True) if r.status_code == 200}
    refused = [k for k, r in zip(keys, responses, strict=True) if r.status_code == 402]
    for response in responses:
        if response.status_code == 402:
            assert response.json()["error"]["code"] == "INSUFFICIENT_CREDITS"
            assert response.headers["X-Credits-Remaining"] == "0"
    assert sorted(int(r.headers["X-Credits-Remaining"]) for r in paid.values()) == [0, 1, 2, 3, 4]
    assert await mesh.balance(account) == 0
    charged = charges(await ledger(mesh, key))
    assert sorted(e["description"] for e in charged) == sorted(
        f"enrichment {r.json()['id']}" for r in paid.values()
    )
    assert all(e["balance_after"] >= 0 for e in charged)
    for response in paid.values():
        stored = await mesh.http.get(f"/v1/enrichments/{response.json()['id']}", headers=auth(key))
        assert stored.status_code == 200 and stored.json() == response.json()

    # Nothing was stored for a refused request: its retry is refused again, not replayed...
    retried = await at_once(mesh, key, [burst[keys.index(k)] for k in refused], refused)
    assert all(r.status_code == 402 for r in retried), [r.text for r in retried]
    # ...and, once the credits are there, enriched and charged then, once.
    await mesh.billing.AddCredits(
        billing_pb.AddCreditsRequest(account_id=account, idempotency_key="top-up", amount=len(refused))
    )
    retried = await at_once(mesh, key, [burst[keys.index(k)] for k in refused], refused)
    assert all(r.status_code == 200 for r in retried), [r.text for r in retried]
    assert all("Idempotent-Replayed" not in r.headers for r in retried)
    assert await mesh.balance(account) == 0
    again = await at_once(mesh, key, [burst[keys.index(k)] for k in paid], list(paid))
    assert [r.json() for r in again] == [r.json() for r in paid.values()]
    assert await mesh.balance(account) == 0
    assert len(charges(await ledger(mesh, key))) == len(burst)


async def test_one_idempotency_key_sent_concurrently_is_answered_once_and_charged_once(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=10)
    responses = await at_once(mesh, key, [{"email": "ana@techflow.io"}] * 8, ["same"] * 8)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert all(r.json() == responses[0].json() for r in responses)
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    assert {r.headers["X-Credits-Remaining"] for r in responses} == {"9"}
    assert await mesh.balance(account) == 9
    assert len(charges(await ledger(mesh, key))) == 1


async def test_one_idempotency_key_with_different_bodies_concurrently_one_body_wins(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=10)
    bodies = [{"email": "mike.chen@techflow.io"}, {"email": "ana@techflow.io"}] * 4
    responses = await at_once(mesh, key, bodies, ["shared"] * len(bodies))
    assert {r.status_code for r in responses} == {200, 409}, [r.text for r in responses]
    won = [(b, r) for b, r in zip(bodies, responses, strict=True) if r.status_code == 200]
    lost = [(b, r) for b, r in zip(bodies, responses, strict=True) if r.status_code != 200]
    winner = won[0][0]
    assert all(b == winner for b, _ in won) and all(b != winner for b, _ in lost)
    assert len({r.json()["id"] for _, r in won}) == 1
    assert all(r.json()["lead"]["email"] == winner["email"] for _, r in won)
    for _, response in lost:
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await mesh.balance(account) == 9
    assert len(charges(await ledger(mesh, key))) == 1
    for body in bodies[:2]:  # afterwards the winner's body replays, the other's stays a 409
        again = await enrich(mesh, key, body, **{"Idempotency-Key": "shared"})
        assert again.status_code == (200 if body == winner else 409), again.text
    assert await mesh.balance(account) == 9


async def test_a_repeated_idempotency_key_does_not_fail_the_accounts_other_requests(mesh: Mesh) -> None:
    """Copies of one request (a client retrying too eagerly) among other requests of the
    account: the copies are one enrichment, the others are enriched as usual."""
    account, key = await mesh.new_account(credits=100)
    others = [lead for lead in ONE_CREDIT_LEADS if lead != NOT_FOUND]
    copies = 8
    bodies = [{"email": "tom@techflow.io"}] * copies + others
    keys = ["eager"] * copies + [f"other-{n}" for n in range(len(others))]
    responses = await at_once(mesh, key, bodies, keys)
    assert all(r.status_code == 200 for r in responses[copies:]), [r.text for r in responses[copies:]]
    assert all(r.status_code == 200 for r in responses[:copies]), [r.text for r in responses[:copies]]
    assert len({r.json()["id"] for r in responses[:copies]}) == 1
    assert await mesh.balance(account) == 100 - 1 - len(others)


async def test_concurrent_transport_retries_over_grpc_are_one_enrichment(mesh: Mesh) -> None:
    """The gateway's made-up request id (``new_request_id``: no replay lookup first) arriving
    several times at once (a transport retrying): one record, one charge."""
    account, _ = await mesh.new_account(credits=10)
    request = enrichment_pb.EnrichLeadRequest(
        account_id=account,
        request_id="req_made_up_once",
        lead=common.LeadInput(email="lena@techflow.io"),
        new_request_id=True,
    )
    answers = await asyncio.gather(*(mesh.enrichment.EnrichLead(request, timeout=10) for _ in range(6)))
    assert len({a.record.id for a in answers}) == 1
    assert sorted(a.replayed for a in answers) == [False] + [True] * 5
    assert {a.credits_remaining for a in answers} == {9}
    assert await mesh.balance(account) == 9


async def test_the_longest_idempotency_key_is_accepted_among_concurrent_requests(mesh: Mesh) -> None:
    """The API takes an Idempotency-Key of up to 200 characters. Sent with other requests of the
    account, its charge goes out in a merged call with theirs: neither may fail the other."""
    account, key = await mesh.new_account(credits=100)
    longest = "k" * 200
    others = [lead for lead in ONE_CREDIT_LEADS if lead != NOT_FOUND]
    expected = await alone(mesh, key, others)
    bodies = [{"email": "tom@techflow.io"}, *others, {"email": "tom@techflow.io"}]
    keys = [longest, *(f"other-{n}" for n in range(len(others))), longest]
    responses = await at_once(mesh, key, bodies, keys)
    assert_same_answers(responses[1:-1], expected)
    assert [r.status_code for r in (responses[0], responses[-1])] == [200, 200], responses[0].text
    assert responses[0].json() == responses[-1].json()
    assert await mesh.balance(account) == 100 - 2 * len(others) - 1


async def test_two_accounts_at_once_each_get_their_own_answers_records_and_charges(mesh: Mesh) -> None:
    """The two accounts score leads with different ICP profiles: a lead scored with the other
    account's profile, stored under the other account or charged to it would show."""
    first, first_key = await mesh.new_account(credits=100)
    second, second_key = await mesh.new_account(credits=100)
    profile = await mesh.http.put("/v1/icp", json=OTHER_PROFILE, headers=auth(second_key))
    assert profile.status_code == 200, profile.text
    leads = [lead for lead in ONE_CREDIT_LEADS if lead != NOT_FOUND]
    expected = {key: await alone(mesh, key, leads) for key in (first_key, second_key)}
    scores = {key: [v["lead"]["icp_score"] for v in views] for key, views in expected.items()}
    assert sum(a != b for a, b in zip(scores[first_key], scores[second_key], strict=True)) >= 5

    # Every lead twice for each account, the accounts' requests interleaved, all at once.
    sends = [(key, n) for n in range(len(leads)) for key in (first_key, second_key)] * 2
    responses = await asyncio.gather(*(enrich(mesh, key, leads[n]) for key, n in sends))
    assert_same_answers(responses, [expected[key][n] for key, n in sends])
    assert await mesh.balance(first) == await mesh.balance(second) == 100 - 3 * len(leads)

    ids: dict[str, set[str]] = {first_key: set(), second_key: set()}
    for (owner, _), response in zip(sends, responses, strict=True):
        ids[owner].add(response.json()["id"])
    for owner, stranger in ((first_key, second_key), (second_key, first_key)):
        for record_id in ids[owner]:
            mine = await mesh.http.get(f"/v1/enrichments/{record_id}", headers=auth(owner))
            assert mine.status_code == 200 and mine.json()["id"] == record_id
            foreign = await mesh.http.get(f"/v1/enrichments/{record_id}", headers=auth(stranger))
            assert foreign.status_code == 404, foreign.text
            assert foreign.json()["error"]["code"] == "ENRICHMENT_NOT_FOUND"
        charged = charges(await ledger(mesh, owner))
        described = {e["description"].removeprefix("enrichment ") for e in charged}
        assert len(charged) == 3 * len(leads)
        assert ids[owner] <= described and not ids[stranger] & described


async def test_a_stopped_verifier_degrades_every_concurrent_answer(mesh: Mesh) -> None:
    account, key = await mesh.new_account(credits=100)
    expected = await alone(mesh, key, EMAIL_LEADS)
    await mesh.stop("verifier")
    responses = await at_once(mesh, key, EMAIL_LEADS * 2)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    for response, wanted in zip(responses, expected * 2, strict=True):
        body = response.json()
        assert body["status"] == "completed"
        assert body["meta"]["degraded"] == [{"component": "verifier", "reason": "UNAVAILABLE"}]
        assert body["meta"]["confidence"] < wanted["meta"]["confidence"]
        people = [p for p in [body["lead"], *body.get("contacts", [])] if p["email"]]
        assert people and all(p["email_status"] == "unknown" for p in people), body
        got = view(body)
        for person in [got["lead"], *got["contacts"], wanted["lead"], *wanted["contacts"]]:
            person["email_status"] = person["email"] and "unknown"
        assert (got["lead"], got["contacts"]) == (wanted["lead"], wanted["contacts"])
    assert await mesh.balance(account) == 100 - 3 * len(EMAIL_LEADS)


def sent(reader: InMemoryMetricReader, call: str) -> tuple[int, int, float]:
    """(calls, items, largest call) the coalescer ``call`` has sent so far."""
    found = points_where(reader, COALESCED, {"call": call})
    return (
        sum(p.count for p in found),
        sum(int(p.sum) for p in found),
        max((p.max for p in found), default=0),
    )


def items_of(answer: dict[str, Any]) -> Counter[str]:
    """The items each coalesced call carries for one request with this answer: its lead, the
    addresses to verify, the company domains, the people to score, its charge and its record."""
    items = Counter({"providers.LookupBatch": 1, "enrichment_records.insert": 1})
    if answer["status"] != "completed":
        return items
    people = answer["contacts"] or [answer["lead"]]
    items["verifier.VerifyBatch"] = sum(bool(p["email"]) for p in people)
    items["intent.GetSignalsBatch"] = len({p["company_domain"] for p in people if p["company_domain"]})
    items["scoring.ScoreBatch"] = len(people)
    items["billing.ChargeEach"] = 1
    return items


async def test_at_limit_one_concurrent_stage_calls_go_out_merged_and_split_back(
    db: AsyncDatabase[Document], amqp_url: str, metric_reader: InMemoryMetricReader
) -> None:
    settings = {"enrichment_coalesce_limit": 1, "enrichment_coalesce_stages": STAGES}
    async with running_mesh(db, amqp_url, enrichment_settings=settings) as mesh:
        _, first_key = await mesh.new_account(credits=1_000)
        expected = await alone(mesh, first_key, ONE_CREDIT_LEADS) * 2
        _, key = await mesh.new_account(credits=1_000)
        calls = sum((items_of(v) for v in expected), Counter())
        assert len(calls) == 6
        before = {call: sent(metric_reader, call) for call in calls}
        responses = await at_once(mesh, key, ONE_CREDIT_LEADS * 2)
        after = {call: sent(metric_reader, call) for call in calls}
    assert_same_answers(responses, expected)
    for call, items in calls.items():
        made, carried = after[call][0] - before[call][0], after[call][1] - before[call][1]
        assert carried == items, (call, carried, items)  # each request's items went out once
        assert made < carried, (call, made, carried)  # in fewer calls: some carried several
        assert after[call][2] > 1, call
