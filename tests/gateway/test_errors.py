"""The one mapping from gRPC status to HTTP, and what a client sees when the gateway itself fails."""

from __future__ import annotations

import asyncio

import grpc
import httpx
import pytest
import uvicorn

from gateway.app import create_app
from gateway.errors import status_for
from gateway.settings import GatewaySettings
from libs.embedded_store import free_port
from libs.errors import LeadmeshError


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
    while not server.started:
        await asyncio.sleep(0.01)
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
