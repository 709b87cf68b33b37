"""Job webhooks: signatures, and delivery through the real broker to a loopback endpoint with
back-off through the delay queues, giving up, refused addresses and missing jobs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from leadmesh.batch.v1 import batch_service_pb2 as pb
from libs import amqp
from libs.safe_http import OutboundPolicy, guarded_client
from services.batch.webhooks import (
    SIGNATURE_HEADER,
    WEBHOOK_QUEUE,
    WebhookDeliverer,
    account_webhook_secret,
    job_payload,
    sign,
    verify,
)
from tests.services.batch.receiver import Receiver
from tests.waiting import eventually

MASTER = "test-master-secret"
LOOPBACK = ("127.0.0.1/32",)
BODY = b'{"type":"job.completed","job_id":"job_1"}'


def finished_job(url: str, state: pb.Job.State.ValueType = pb.Job.STATE_SUCCEEDED, **fields: Any) -> pb.Job:
    job = pb.Job(
        job_id=f"job_{uuid.uuid4().hex[:12]}",
        account_id="acct_a",
        state=state,
        total_rows=120,
        counts=pb.RowCounts(enriched=100, not_found=12, invalid_input=5, failed=3),
        credits_used=100,
        webhook_url=url,
        file_name="leads.csv",
        **fields,
    )
    job.create_time.FromSeconds(1_700_000_000)
    job.end_time.FromSeconds(1_700_000_600)
    return job


# --- signatures and payload -----------------------------------------------------------------


def test_a_signature_verifies_with_its_secret_body_and_time_only() -> None:
    secret = account_webhook_secret(MASTER, "acct_a")
    header = sign(secret, 1_700_000_000, BODY)
    expected = hmac.new(secret.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"

    assert verify(secret, header, BODY, now=1_700_000_100)
    assert not verify(secret, header, BODY.replace(b"job_1", b"job_2"), now=1_700_000_100)
    assert not verify(account_webhook_secret(MASTER, "acct_b"), header, BODY, now=1_700_000_100)
    assert not verify(secret, header, BODY, now=1_700_000_301)  # too old
    assert not verify(secret, header, BODY, now=1_699_999_699)  # too far in the future
    assert verify(secret, header, BODY, now=1_700_000_301, tolerance=400)


def test_verify_accepts_any_of_several_signatures_for_rotation() -> None:
    old, new = "whsec_old", "whsec_new"
    rotated = f"{sign(old, 1_700_000_000, BODY)},v1={sign(new, 1_700_000_000, BODY).split('v1=')[1]}"
    assert verify(old, rotated, BODY, now=1_700_000_000)
    assert verify(new, rotated, BODY, now=1_700_000_000)
    assert not verify("whsec_other", rotated, BODY, now=1_700_000_000)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "garbage",
        "v1=abc",  # no timestamp
        "t=1700000000",  # no signature
        "t=17000x0000,v1=abc",
        "t=-1700000000,v1=abc",
        "t=１７００００００００,v1=abc",  # non-ASCII digits
        "t=1700000000,t=1700000000,v1=abc",
        "t=1700000000,v1=",
        "t=1700000000,,v1=abc",
    ],
)
def test_verify_rejects_malformed_headers(header: str) -> None:
    secret = account_webhook_secret(MASTER, "acct_a")
    good = sign(secret, 1_700_000_000, BODY).split(",")[1]
    assert not verify(secret, header.replace("v1=abc", good), BODY, now=1_700_000_000)


def test_each_account_gets_its_own_stable_secret() -> None:
    a = account_webhook_secret(MASTER, "acct_a")
    assert a == account_webhook_secret(MASTER, "acct_a")
    assert a != account_webhook_secret(MASTER, "acct_b")
    assert a != account_webhook_secret("another-deployment", "acct_a")
    digest = hmac.new(MASTER.encode(), b"webhook:acct_a", hashlib.sha256).digest()
    assert a == "whsec_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
    with pytest.raises(ValueError):
        account_webhook_secret("", "acct_a")


def test_the_payload_of_a_failed_job_names_its_error() -> None:
    payload = job_payload(finished_job("", pb.Job.STATE_FAILED, error="not enough credits"))
    assert payload["type"] == "job.failed"
    assert payload["state"] == "failed"
    assert payload["error"] == "not enough credits"
    cancelled = finished_job("", pb.Job.STATE_CANCELLED)
    cancelled.ClearField("end_time")
    assert job_payload(cancelled)["type"] == "job.cancelled"
    assert job_payload(cancelled)["completed_at"] is None
    with pytest.raises(ValueError):
        job_payload(finished_job("", pb.Job.STATE_RUNNING))


# --- delivery through the broker ----------------------------------------------------------------


@dataclass
class Running:
    deliverer: WebhookDeliverer
    channel: AbstractChannel
    consumer: amqp.Consumer
    # Jobs load_job finds (by job id, within their account) and every (account, job) it was asked for.
    jobs: dict[str, pb.Job] = field(default_factory=dict)
    loads: list[tuple[str, str]] = field(default_factory=list)
    stopped: bool = False

    async def stop(self) -> None:
        """Stop consuming and close the channel (its unacknowledged messages become ready again)."""
        if not self.stopped:
            self.stopped = True
            await self.consumer.cancel()
            await self.channel.close()

    def loads_of(self, job: pb.Job) -> int:
        return self.loads.count((job.account_id, job.job_id))


StartDeliverer = Callable[..., Awaitable[Running]]


@pytest_asyncio.fixture
async def broker(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    """A connection to the test vhost; the webhook queue and its dead letters start empty."""
    connection = await amqp.connect(amqp_url)
    channel = await connection.channel()
    await amqp.declare_topology(channel, [WEBHOOK_QUEUE])
    for name in (WEBHOOK_QUEUE.name, WEBHOOK_QUEUE.dead_letter_queue):
        await (await channel.get_queue(name)).purge()
    yield connection
    await connection.close()


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    endpoint = Receiver()
    yield endpoint
    await endpoint.stop()


@pytest_asyncio.fixture
async def start_deliverer(broker: AbstractRobustConnection) -> AsyncIterator[StartDeliverer]:
    """Starts deliverers consuming the webhook queue; all stopped afterwards."""
    cleanups: list[Callable[[], Awaitable[None]]] = []

    async def start(allowed: tuple[str, ...] = LOOPBACK, **options: Any) -> Running:
        client = guarded_client(OutboundPolicy.from_cidrs(allowed), timeout=2.0, follow_redirects=False)
        publisher = await amqp.Publisher.open(broker, timeout=5.0)
        channel = await broker.channel()
        cleanups.extend([client.aclose, publisher.close])
        jobs: dict[str, pb.Job] = {}
        loads: list[tuple[str, str]] = []

        async def load_job(account_id: str, job_id: str) -> pb.Job | None:
            loads.append((account_id, job_id))
            job = jobs.get(job_id)
            return job if job is not None and job.account_id == account_id else None

        async def derived(account_id: str) -> list[str]:
            return [account_webhook_secret(MASTER, account_id)]

        options = {
            "max_attempts": 8,
            "base_delay": 0.2,
            "timeout": 2.0,
            "signing_secrets": derived,
            **options,
        }
        deliverer = WebhookDeliverer(load_job=load_job, publisher=publisher, client=client, **options)
        running = Running(deliverer, channel, await deliverer.start(channel), jobs, loads)
        cleanups.append(running.stop)
        return running

    yield start
    for cleanup in reversed(cleanups):
        await cleanup()


def records(caplog: pytest.LogCaptureFixture, job: pb.Job, message: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.getMessage() == message and getattr(r, "job_id", None) == job.job_id
    ]


@pytest.fixture(autouse=True)
def _capture_webhook_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="services.batch.webhooks")


async def test_failed_deliveries_come_back_later_and_later_until_one_succeeds(
    receiver: Receiver, start_deliverer: StartDeliverer, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500, 500, 200]
    await receiver.start()
    running = await start_deliverer(base_delay=0.5)
    job = finished_job(receiver.url())
    running.jobs[job.job_id] = job

    await running.deliverer.schedule(job)
    await eventually(lambda: len(records(caplog, job, "webhook delivered")) == 1)

    assert len(receiver.requests) == 3
    secret = account_webhook_secret(MASTER, job.account_id)
    timestamps = []
    for attempt, request in enumerate(receiver.requests, start=1):
        assert request.method == "POST"
        assert request.path == "/hooks/leadmesh"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"] == "leadmesh-webhooks/1"
        assert request.headers["leadmesh-delivery"] == f"{job.job_id}:{attempt}"
        signature = request.headers[SIGNATURE_HEADER.lower()]
        assert verify(secret, signature, request.body)
        assert not verify(account_webhook_secret(MASTER, "acct_b"), signature, request.body)
        timestamps.append(int(signature.split(",")[0].removeprefix("t=")))
        assert json.loads(request.body) == {
            "type": "job.completed",
            "job_id": job.job_id,
            "state": "succeeded",
            "total_rows": 120,
            "counts": {"enriched": 100, "not_found": 12, "invalid_input": 5, "failed": 3},
            "credits_used": 100,
            "result_url": f"/v1/jobs/{job.job_id}/result.csv",
            "file_name": "leads.csv",
            "created_at": "2023-11-14T22:13:20Z",
            "completed_at": "2023-11-14T22:23:20Z",
            "error": None,
            "livemode": True,
        }
    assert timestamps == sorted(timestamps) and timestamps[-1] > timestamps[0]  # each attempt signed anew
    first_gap = receiver.requests[1].at - receiver.requests[0].at
    second_gap = receiver.requests[2].at - receiver.requests[1].at
    assert 0.45 <= first_gap < 5.0
    assert second_gap >= 0.9 and second_gap > 1.4 * first_gap


async def test_a_delivery_is_given_up_after_max_attempts(
    receiver: Receiver, start_deliverer: StartDeliverer, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [503]
    await receiver.start()
    running = await start_deliverer(max_attempts=3, base_delay=0.2)
    job = finished_job(receiver.url())
    running.jobs[job.job_id] = job

    await running.deliverer.schedule(job)
    await eventually(lambda: records(caplog, job, "webhook given up"))

    # Given up after the 3rd attempt, with no 4th scheduled.
    assert len(receiver.requests) == 3
    assert len(records(caplog, job, "webhook failed; retry scheduled")) == 2
    (given_up,) = records(caplog, job, "webhook given up")
    assert given_up.levelno == logging.ERROR
    assert getattr(given_up, "url", None) == receiver.url().rsplit("/hooks/", 1)[0]  # no path in logs
    assert getattr(given_up, "attempt", None) == 3


async def test_a_timeout_counts_as_a_failure_and_is_retried(
    receiver: Receiver, start_deliverer: StartDeliverer, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses, receiver.delays = [200], [2.0]
    await receiver.start()
    running = await start_deliverer(timeout=0.5, base_delay=0.2)
    job = finished_job(receiver.url())
    running.jobs[job.job_id] = job

    await running.deliverer.schedule(job)
    await eventually(lambda: len(records(caplog, job, "webhook delivered")) == 1)

    deliveries = [request.headers["leadmesh-delivery"] for request in receiver.requests]
    assert deliveries == [f"{job.job_id}:1", f"{job.job_id}:2"]


async def test_a_refused_address_is_never_posted_to_nor_retried(
    receiver: Receiver, start_deliverer: StartDeliverer, caplog: pytest.LogCaptureFixture
) -> None:
    await receiver.start()
    running = await start_deliverer(allowed=(), base_delay=0.2)  # loopback not allowed
    job = finished_job(receiver.url())
    running.jobs[job.job_id] = job

    await running.deliverer.schedule(job)
    await eventually(lambda: len(records(caplog, job, "webhook given up")) == 1)

    assert receiver.requests == []
    assert running.loads_of(job) == 1
    assert records(caplog, job, "webhook failed; retry scheduled") == []


async def test_a_missing_job_is_acknowledged_and_nothing_is_posted(
    receiver: Receiver,
    start_deliverer: StartDeliverer,
    broker: AbstractRobustConnection,
    spans: InMemorySpanExporter,
) -> None:
    await receiver.start()
    running = await start_deliverer()
    job = finished_job(receiver.url())  # load_job does not find it

    await running.deliverer.schedule(job)

    def handled() -> bool:  # the consumer's span ends once the message is settled
        return any(
            s.name == f"process {WEBHOOK_QUEUE.name}"
            and (s.attributes or {}).get("messaging.message.id") == f"{job.job_id}:1"
            for s in spans.get_finished_spans()
        )

    await eventually(handled)
    await running.stop()  # an unacknowledged message would be ready again now

    assert receiver.requests == []
    assert running.loads_of(job) == 1  # not retried by the consumer either
    channel = await broker.channel()
    assert await amqp.queue_depth(channel, WEBHOOK_QUEUE.name) == 0
    assert await amqp.queue_depth(channel, WEBHOOK_QUEUE.dead_letter_queue) == 0
    await channel.close()


async def test_a_job_without_a_webhook_url_schedules_nothing(
    receiver: Receiver, start_deliverer: StartDeliverer
) -> None:
    await receiver.start()
    running = await start_deliverer()
    silent, loud = finished_job(""), finished_job(receiver.url())
    running.jobs.update({silent.job_id: silent, loud.job_id: loud})

    await running.deliverer.schedule(silent)
    await running.deliverer.schedule(loud)
    await eventually(lambda: len(receiver.requests) == 1)

    assert running.loads_of(silent) == 0
    assert json.loads(receiver.requests[0].body)["job_id"] == loud.job_id


def test_logs_show_a_webhook_url_without_its_path_query_or_credentials() -> None:
    from services.batch.webhooks import _loggable

    assert (
        _loggable("https://user:pw@hooks.example.com:8443/t/SECRET?token=abc")
        == "https://hooks.example.com:8443"
    )
    assert _loggable("https://hooks.example.com/in/xyz") == "https://hooks.example.com"
