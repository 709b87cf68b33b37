"""The one mapping from gRPC status to HTTP, and what a client sees when the gateway itself fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import grpc
import httpx
import pytest
import pytest_asyncio
import uvicorn
from google.rpc import status_pb2
from grpc_status import rpc_status

from gateway.app import create_app
from gateway.errors import status_for
from gateway.settings import GatewaySettings
from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from libs.embedded_store import free_port
from libs.errors import (
    FailedPrecondition,
    InvalidArgument,
    LeadmeshError,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    to_rpc_status,
)
from tests import grpc_callers
from tests.waiting import eventually

UNAVAILABLE = "a service is unavailable; retry shortly"
TOO_LARGE = "request too large"
DENIED = "permission denied"


@pytest.mark.parametrize(
    ("code", "reason", "status"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN", 400),
        (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_INVALID", 401),
        (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_CREDITS", 402),
        (grpc.StatusCode.NOT_FOUND, "JOB_NOT_FOUND", 404),
        (grpc.StatusCode.ABORTED, "IDEMPOTENCY_KEY_REUSED", 409),
        (grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS", 409),
        (grpc.StatusCode.FAILED_PRECONDITION, "RESERVATION_CLOSED", 409),
        (grpc.StatusCode.INVALID_ARGUMENT, "TOO_MANY_ROWS", 413),
        (grpc.StatusCode.INVALID_ARGUMENT, "UNSUPPORTED_ENCODING", 415),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "RATE_LIMITED", 429),
        (grpc.StatusCode.UNAVAILABLE, "UNAVAILABLE", 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", 503),
        (grpc.StatusCode.INTERNAL, "INTERNAL", 500),
        (grpc.StatusCode.UNKNOWN, "UNKNOWN", 500),
    ],
)
def test_grpc_status_maps_to_http_in_one_place(code: grpc.StatusCode, reason: str, status: int) -> None:
    error = LeadmeshError("x", reason=reason)
    error.code = code
    assert status_for(error) == status


async def test_an_unexpected_gateway_error_is_a_json_500_with_the_request_id() -> None:
    app = create_app(GatewaySettings(billing_addr=f"127.0.0.1:{free_port()}"))

    async def boom() -> None:
        raise RuntimeError("secret connection string mongodb://admin:hunter2@db")

    app.add_api_route("/boom", boom)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            response = await http.get("/boom", headers={"X-Request-Id": "trace-me"})
    finally:
        server.should_exit = True
        await task
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-me"
    assert response.json() == {
        "error": {
            "type": "internal_error",
            "code": "INTERNAL",
            "message": "internal error",
            "request_id": "trace-me",
        }
    }
    assert "hunter2" not in response.text


# Statuses that gRPC made itself (no ErrorInfo of ours) against statuses our services raised.

BILLING = "leadmesh.billing.v1.BillingService"
# An API key too long for the receive limit of the billing stand-in below.
LONG_KEY = "lm_live_" + "k" * 200


class BillingStandIn:
    """A loopback gRPC server at BillingService's name whose ``Authenticate`` fails with the status
    a test gives, and whose receive limit (64 bytes) gRPC itself enforces."""

    def __init__(self) -> None:
        self.status: status_pb2.Status | None = None
        self.server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64)])
        handler = grpc.unary_unary_rpc_method_handler(
            self.authenticate,
            request_deserializer=billing_pb.AuthenticateRequest.FromString,
            response_serializer=billing_pb.AuthenticateResponse.SerializeToString,
        )
        self.server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(BILLING, {"Authenticate": handler}),)
        )
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"

    async def authenticate(
        self, request: billing_pb.AuthenticateRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> billing_pb.AuthenticateResponse:
        assert self.status is not None
        await context.abort_with_status(rpc_status.to_status(self.status))
        raise AssertionError("aborted")


@asynccontextmanager
async def gateway_before(billing_addr: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(GatewaySettings(billing_addr=billing_addr))

    async def send_too_large() -> None:
        """Calls billing over a channel whose send limit the request is over (a client-side error)."""
        options = [("grpc.max_send_message_length", 64)]
        async with grpc_callers.channel(billing_addr, options=options) as channel:
            await billing_grpc.BillingServiceStub(channel).Authenticate(
                billing_pb.AuthenticateRequest(api_key=LONG_KEY), timeout=2
            )

    app.add_api_route("/send-too-large", send_too_large)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield http
    finally:
        server.should_exit = True
        await task


@pytest_asyncio.fixture
async def billing_stand_in() -> AsyncIterator[BillingStandIn]:
    stand_in = BillingStandIn()
    await stand_in.server.start()
    yield stand_in
    await stand_in.server.stop(None)


def error_of(response: httpx.Response) -> tuple[int, str, str, str]:
    error = response.json()["error"]
    assert error["request_id"] == response.headers["x-request-id"]
    return response.status_code, error["type"], error["code"], error["message"]


def credits(http: httpx.AsyncClient, key: str = "lm_live_short") -> Awaitable[httpx.Response]:
    return http.get("/v1/credits", headers={"Authorization": f"Bearer {key}"})


async def test_a_message_over_grpcs_size_limit_is_413_without_grpcs_text(
    billing_stand_in: BillingStandIn,
) -> None:
    async with gateway_before(billing_stand_in.address) as http:
        received_too_large = await credits(http, LONG_KEY)  # refused by the server's gRPC
        sent_too_large = await http.get("/send-too-large")  # refused by the gateway's own gRPC
    for response in (received_too_large, sent_too_large):
        assert error_of(response) == (413, "payload_too_large", "PAYLOAD_TOO_LARGE", "request too large")
        assert "larger than max" not in response.text.lower()


async def test_a_status_without_our_error_info_answers_a_fixed_message(
    billing_stand_in: BillingStandIn,
) -> None:
    secret = "upstream mongodb://admin:hunter2@db said no"
    cases = [
        (grpc.StatusCode.PERMISSION_DENIED, (403, "permission_denied", "PERMISSION_DENIED", DENIED)),
        (grpc.StatusCode.NOT_FOUND, (404, "not_found", "NOT_FOUND", "not found")),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, (413, "payload_too_large", "PAYLOAD_TOO_LARGE", TOO_LARGE)),
        (grpc.StatusCode.UNAVAILABLE, (503, "service_unavailable", "UNAVAILABLE", UNAVAILABLE)),
        (grpc.StatusCode.INTERNAL, (500, "internal_error", "INTERNAL", "internal error")),
    ]  # fmt: skip
    async with gateway_before(billing_stand_in.address) as http:
        for code, expected in cases:
            billing_stand_in.status = status_pb2.Status(code=code.value[0], message=secret)
            response = await credits(http)
            assert error_of(response) == expected
            assert "hunter2" not in response.text


async def test_our_services_errors_keep_their_status_reason_and_message(
    billing_stand_in: BillingStandIn,
) -> None:
    async with gateway_before(billing_stand_in.address) as http:
        billing_stand_in.status = to_rpc_status(ResourceExhausted("slow down", reason="RATE_LIMITED"))
        limited = await credits(http)
        billing_stand_in.status = to_rpc_status(NotFound("no such account", reason="ACCOUNT_NOT_FOUND"))
        missing = await credits(http)
        billing_stand_in.status = to_rpc_status(Unavailable("store down at 10.0.0.7", reason="STORE_DOWN"))
        down = await credits(http)
    assert error_of(limited) == (429, "rate_limited", "RATE_LIMITED", "slow down")
    assert error_of(missing) == (404, "not_found", "ACCOUNT_NOT_FOUND", "no such account")
    assert error_of(down) == (
        503,
        "service_unavailable",
        "STORE_DOWN",
        UNAVAILABLE,
    )


async def test_the_headers_a_client_acts_on_come_with_the_status_wherever_the_call_was(
    billing_stand_in: BillingStandIn,
) -> None:
    """The Bearer challenge of a 401, the balance of a 402, the field of a 400: set by the one
    handler, so a route (here the API-key check) only lets the call's error through."""
    async with gateway_before(billing_stand_in.address) as http:
        billing_stand_in.status = to_rpc_status(Unauthenticated("API key revoked", reason="API_KEY_REVOKED"))
        revoked = await credits(http)
        billing_stand_in.status = to_rpc_status(
            FailedPrecondition(
                "balance 3, 11 needed", reason="INSUFFICIENT_CREDITS", metadata={"balance": "3"}
            )
        )
        poor = await credits(http)
        billing_stand_in.status = to_rpc_status(
            InvalidArgument("bad key", reason="API_KEY_MALFORMED", metadata={"field": "api_key"})
        )
        malformed = await credits(http)
    assert error_of(revoked) == (401, "authentication_error", "API_KEY_REVOKED", "API key revoked")
    assert revoked.headers["www-authenticate"] == "Bearer"
    assert error_of(poor) == (402, "insufficient_credits", "INSUFFICIENT_CREDITS", "balance 3, 11 needed")
    assert poor.headers["x-credits-remaining"] == "3"
    assert error_of(malformed) == (400, "invalid_request", "API_KEY_MALFORMED", "bad key")
    assert malformed.headers["x-error-field"] == "api_key"


async def test_an_unreachable_service_is_503_without_grpcs_text() -> None:
    async with gateway_before(f"127.0.0.1:{free_port()}") as http:
        response = await credits(http)
    assert error_of(response) == (
        503,
        "service_unavailable",
        "UNAVAILABLE",
        UNAVAILABLE,
    )
    assert "127.0.0.1" not in response.text
