"""VerifyBatch: grouping by domain, shared sessions, streaming, greylist retries, the cache and
the per-server limits."""

from __future__ import annotations

import time
from datetime import timedelta

import grpc
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.verifier.v1 import verifier_service_pb2 as pb
from leadmesh.verifier.v1 import verifier_service_pb2_grpc as pb_grpc
from libs.errors import error_from_rpc
from libs.mongo import Document, utc_now
from tests.services.verifier.conftest import TEAM_DOMAINS, VerifierFactory
from tests.services.verifier.mailservers import LoopbackDns, MailFarm

Stub = pb_grpc.VerifierServiceStub


def batch(*emails: str, refresh: bool = False) -> pb.VerifyBatchRequest:
    return pb.VerifyBatchRequest(
        items=[pb.VerifyBatchItem(index=10 + n, email=email) for n, email in enumerate(emails)],
        options=pb.VerifyOptions(refresh=refresh),
    )


async def run_batch(
    stub: Stub, request: pb.VerifyBatchRequest, timeout: float = 20.0
) -> dict[int, common.EmailVerdict]:
    results: dict[int, common.EmailVerdict] = {}
    async for result in stub.VerifyBatch(request, timeout=timeout):
        assert result.index not in results
        results[result.index] = result.verdict
    return results


async def test_every_item_gets_its_verdict_tagged_with_its_index(verifier: Stub) -> None:
    emails = [
        "alice@acme-corp.com",
        "nobody@acme-corp.com",
        "ALICE@acme-corp.com",
        "alice@acme-corp.com",
        "x@catchall-corp.com",
        "someone@full-corp.com",
        "someone@nullmx-corp.com",
        "not an address",
        "temp1@mailinator.com",
    ]
    results = await run_batch(verifier, batch(*emails))
    assert sorted(results) == [10 + n for n in range(len(emails))]
    assert [results[10 + n].email for n in range(len(emails))] == emails
    statuses = [results[10 + n].status for n in range(len(emails))]
    assert statuses == [
        common.EMAIL_STATUS_VALID,
        common.EMAIL_STATUS_INVALID,
        # Local parts are case-sensitive: a server may say otherwise.
        common.EMAIL_STATUS_VALID,
        common.EMAIL_STATUS_VALID,
        common.EMAIL_STATUS_CATCH_ALL,
        common.EMAIL_STATUS_RISKY,
        common.EMAIL_STATUS_INVALID,
        common.EMAIL_STATUS_INVALID,
        common.EMAIL_STATUS_DISPOSABLE,
    ]


async def test_addresses_of_a_domain_share_sessions_up_to_the_limit(
    start_verifier: VerifierFactory, farm: MailFarm
) -> None:
    stub = (await start_verifier(verifier_recipients_per_session=3)).stub
    emails = [f"user{n}@acme-corp.com" for n in range(6)] + ["alice@acme-corp.com"]
    results = await run_batch(stub, batch(*emails))
    assert len(results) == 7
    assert farm.sessions("mx-known") == 3  # ceil(7 / 3)
    probes = farm.behaviours["mx-known"].rcpts  # type: ignore[union-attr]
    # Each address once, and one catch-all probe for the domain.
    assert len(probes) == 8
    assert sum(probe.recipient.startswith("lmverify-") for probe in probes) == 1
    # One transaction per session: every RCPT of a session follows its one MAIL FROM.
    assert farm.behaviours["mx-known"].mail_commands == 3  # type: ignore[union-attr]


async def test_ascii_and_internationalized_mailboxes_share_one_transaction(
    verifier: Stub, farm: MailFarm
) -> None:
    """The transaction asks for SMTPUTF8 as one of its recipients needs it; the others are
    probed in it all the same."""
    results = await run_batch(
        verifier, batch("josé@acme-corp.com", "alice@acme-corp.com", "nobody@acme-corp.com")
    )
    assert [results[10 + n].status for n in range(3)] == [
        common.EMAIL_STATUS_VALID,
        common.EMAIL_STATUS_VALID,
        common.EMAIL_STATUS_INVALID,
    ]
    assert farm.sessions("mx-known") == 1
    assert farm.behaviours["mx-known"].mail_commands == 1  # type: ignore[union-attr]


async def test_one_session_per_domain_by_default(verifier: Stub, farm: MailFarm) -> None:
    emails = [f"user{n}@acme-corp.com" for n in range(15)] + [f"x{n}@catchall-corp.com" for n in range(5)]
    await run_batch(verifier, batch(*emails))
    assert (farm.sessions("mx-known"), farm.sessions("mx-catchall")) == (1, 1)


async def test_results_stream_back_as_they_are_decided(start_verifier: VerifierFactory) -> None:
    stub = (await start_verifier(verifier_connect_timeout=1.0)).stub
    started = time.monotonic()
    arrivals: list[tuple[str, float]] = []
    async for result in stub.VerifyBatch(batch("someone@stall-corp.com", "alice@acme-corp.com"), timeout=10):
        arrivals.append((result.verdict.email, time.monotonic() - started))
    assert [email for email, _ in arrivals] == ["alice@acme-corp.com", "someone@stall-corp.com"]
    assert arrivals[0][1] < 0.9 <= arrivals[1][1]


async def test_greylisted_addresses_are_retried_in_a_batch(verifier: Stub, farm: MailFarm) -> None:
    results = await run_batch(
        verifier, batch("carol@greylist-corp.com", "dave@greylist-corp.com", "nobody@greylist-corp.com")
    )
    assert [results[n].status for n in (10, 11, 12)] == [
        common.EMAIL_STATUS_VALID,
        common.EMAIL_STATUS_VALID,
        common.EMAIL_STATUS_INVALID,
    ]
    assert farm.sessions("mx-greylist") == 2
    probes = farm.behaviours["mx-greylist"].rcpts  # type: ignore[union-attr]
    # The retry came back with the same HELO name and sender, for the same triplets.
    assert {(probe.helo, probe.sender) for probe in probes} == {("verifier.lmtest", "probe@verifier.lmtest")}
    first, retried = probes[:3], probes[3:]
    assert all(probe.reply.startswith("451 4.7.1") for probe in first)
    retried_addresses = {probe.recipient for probe in retried if not probe.recipient.startswith("lmverify-")}
    assert retried_addresses == {probe.recipient for probe in first}


async def test_greylisting_stays_unknown_when_the_deadline_leaves_no_room(
    start_verifier: VerifierFactory, farm: MailFarm
) -> None:
    stub = (await start_verifier(verifier_greylist_backoff=30.0)).stub
    results = await run_batch(stub, batch("carol@greylist-corp.com"), timeout=10.0)
    assert results[10].status == common.EMAIL_STATUS_UNKNOWN
    assert results[10].retry_after.seconds == 30
    assert farm.sessions("mx-greylist") == 1


async def test_verdicts_and_domain_findings_are_cached(
    start_verifier: VerifierFactory, farm: MailFarm, dns_server: LoopbackDns
) -> None:
    verifier = (await start_verifier()).stub
    emails = (
        "alice@acme-corp.com",
        "nobody@acme-corp.com",
        "x@catchall-corp.com",
        "someone@blocked-corp.com",
    )
    first = await run_batch(verifier, batch(*emails))
    sessions = farm.sessions()
    # Another replica over the same store (its own DNS cache is empty).
    replica = (await start_verifier()).stub
    again = await run_batch(replica, batch(*emails))
    for index in (10, 11, 12):
        assert again[index].decided_by == common.VERIFICATION_CHECK_CACHE
        assert again[index].status == first[index].status
        assert again[index].smtp_code == first[index].smtp_code
        assert again[index].checked_time == first[index].checked_time
    # An unknown verdict is not cached: the policy-blocked address is probed again, but its
    # domain's findings come from the cache.
    assert again[13].decided_by == common.VERIFICATION_CHECK_SMTP
    assert farm.sessions() == sessions + 1
    # New addresses of known domains: no DNS lookup, no new catch-all probe.
    lookups = sum(dns_server.queries.values())
    third = (await start_verifier()).stub
    results = await run_batch(third, batch("bob@acme-corp.com", "y@catchall-corp.com"))
    assert [results[10].status, results[11].status] == [
        common.EMAIL_STATUS_VALID,
        common.EMAIL_STATUS_CATCH_ALL,
    ]
    assert sum(dns_server.queries.values()) == lookups
    probes = farm.behaviours["mx-catchall"].rcpts  # type: ignore[union-attr]
    assert [probe.recipient for probe in probes[-1:]] == ["y@catchall-corp.com"]
    # refresh bypasses the cache.
    sessions = farm.sessions()
    fresh = await run_batch(replica, batch("alice@acme-corp.com", refresh=True))
    assert fresh[10].decided_by == common.VERIFICATION_CHECK_SMTP
    assert farm.sessions() == sessions + 1


async def test_single_verify_results_are_cached_too(verifier: Stub, farm: MailFarm) -> None:
    await verifier.Verify(pb.VerifyRequest(email="bob@acme-corp.com"), timeout=5)
    for _ in range(50):  # the single call writes its cache entry after answering
        again = await verifier.Verify(pb.VerifyRequest(email="bob@acme-corp.com"), timeout=5)
        if again.verdict.decided_by == common.VERIFICATION_CHECK_CACHE:
            break
    assert again.verdict.decided_by == common.VERIFICATION_CHECK_CACHE
    assert again.verdict.status == common.EMAIL_STATUS_VALID


async def test_sessions_to_one_server_are_limited(start_verifier: VerifierFactory, farm: MailFarm) -> None:
    emails = [f"{local}@{domain}" for domain in TEAM_DOMAINS for local in ("a", "b")]
    stub = (await start_verifier(verifier_mx_concurrency=2)).stub
    results = await run_batch(stub, batch(*emails))
    assert {verdict.status for verdict in results.values()} == {common.EMAIL_STATUS_VALID}
    assert farm.sessions("mx-slow") == len(TEAM_DOMAINS)
    assert farm.stats["mx-slow"].most_active == 2


async def test_rcpt_commands_to_one_server_are_paced(start_verifier: VerifierFactory, farm: MailFarm) -> None:
    stub = (await start_verifier(verifier_mx_rate=20.0, verifier_mx_concurrency=2)).stub
    emails = ["alice@acme-corp.com"] + [f"user{n}@acme-corp.com" for n in range(8)]
    started = time.monotonic()
    await run_batch(stub, batch(*emails))
    # 10 RCPTs (9 addresses and the catch-all probe), a burst of 2, then 20 per second.
    assert time.monotonic() - started >= (10 - 2) / 20.0
    assert len(farm.behaviours["mx-known"].rcpts) == 10  # type: ignore[union-attr]


async def test_a_batch_larger_than_allowed_is_refused(start_verifier: VerifierFactory) -> None:
    stub = (await start_verifier(verifier_max_batch_items=3)).stub
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await run_batch(
            stub, batch("a@acme-corp.com", "b@acme-corp.com", "c@acme-corp.com", "d@acme-corp.com")
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_from_rpc(caught.value).reason == "BATCH_TOO_LARGE"


async def test_cache_entries_expire(
    start_verifier: VerifierFactory, db: AsyncDatabase[Document], farm: MailFarm
) -> None:
    """An expired entry is never served, and the periodic purge deletes it. The index on
    expire_time is a plain one (a TTL index makes the embedded store purge on every read): one
    left by an earlier version is replaced."""
    await db["verifier_addresses"].create_index([("expire_time", 1)], expireAfterSeconds=0)
    started = await start_verifier()
    stub = started.stub
    for collection in ("verifier_addresses", "verifier_domains"):
        indexes = await db[collection].index_information()
        assert [index for index in indexes.values() if list(index["key"]) == [("expire_time", 1)]] and not [
            index for index in indexes.values() if "expireAfterSeconds" in index
        ], indexes
    # A batch's stream ends once its cache writes are in.
    await run_batch(stub, batch("alice@acme-corp.com", "bob@acme-corp.com"))
    past = utc_now() - timedelta(seconds=5)
    await db["verifier_addresses"].update_one({"_id": "alice@acme-corp.com"}, {"$set": {"expire_time": past}})
    # Not served by a replica that reads it from the store (the first keeps what it verified in
    # memory, up to the expiry it stored).
    other = (await start_verifier()).stub
    again = await run_batch(other, batch("alice@acme-corp.com"))
    assert again[10].decided_by == common.VERIFICATION_CHECK_SMTP
    assert farm.sessions("mx-known") == 2
    await db["verifier_addresses"].update_one({"_id": "bob@acme-corp.com"}, {"$set": {"expire_time": past}})

    assert await started.verifier.cache.purge_expired() == 1
    assert [doc["_id"] async for doc in db["verifier_addresses"].find({})] == ["alice@acme-corp.com"]


async def test_a_repeated_address_is_answered_from_memory(
    start_verifier: VerifierFactory, farm: MailFarm, spans: InMemorySpanExporter
) -> None:
    """What a replica verified it also keeps in-process: the same address again is a cache
    answer without a store read or an SMTP session."""
    stub = (await start_verifier()).stub
    await run_batch(stub, batch("alice@acme-corp.com"))  # its stream ends once its cache writes are in
    spans.clear()
    again = await run_batch(stub, batch("alice@acme-corp.com"))
    assert again[10].decided_by == common.VERIFICATION_CHECK_CACHE
    assert again[10].status == common.EMAIL_STATUS_VALID
    assert not [span for span in spans.get_finished_spans() if span.name.startswith("find ")]
    assert farm.sessions("mx-known") == 1


async def test_a_busy_mail_server_does_not_hold_up_other_domains(
    start_verifier: VerifierFactory, farm: MailFarm
) -> None:
    # Six domains on one slow server that takes one session at a time, and one other domain,
    # with only two sessions at once for the whole batch.
    stub = (await start_verifier(verifier_mx_concurrency=1, verifier_batch_concurrency=2)).stub
    emails = [f"{local}@{domain}" for domain in TEAM_DOMAINS for local in ("a", "b")] + [
        "alice@acme-corp.com"
    ]
    order = [result.verdict.email async for result in stub.VerifyBatch(batch(*emails), timeout=20)]
    assert len(order) == len(emails)
    assert order.index("alice@acme-corp.com") < 4
    assert farm.stats["mx-slow"].most_active == 1
