"""GET /healthz: the gateway and the health of each service it depends on, and whether it runs
in demo mode."""

from __future__ import annotations

import asyncio

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2

from gateway import examples

router = APIRouter(tags=["health"])

_SERVING = health_pb2.HealthCheckResponse.SERVING


def grpc_service_name(service: str) -> str:
    """``billing`` -> ``leadmesh.billing.v1.BillingService``."""
    return f"leadmesh.{service}.v1.{service.capitalize()}Service"


async def _check(request: Request, service: str) -> str:
    try:
        reply = await request.app.state.mesh.health(service).Check(
            health_pb2.HealthCheckRequest(service=grpc_service_name(service)), timeout=1.0
        )
    except grpc.aio.AioRpcError as exc:
        return (
            "UNREACHABLE"
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            else "ERROR"
        )
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


@router.get(
    "/healthz",
    summary="Health of the gateway and its dependencies",
    responses={
        200: examples.json_example(
            examples.HEALTH,
            "Every dependency serving. `demo` is true when the gateway runs in demo mode "
            "(`LEADMESH_DEMO=true`, `leadmesh up --demo`), false otherwise.",
        ),
        503: {"description": "A dependency is not serving: `status` is `degraded`"},
    },
)
async def healthz(request: Request) -> JSONResponse:
    services = request.app.state.settings.gateway_dependencies
    statuses = await asyncio.gather(*(_check(request, name) for name in services))
    dependencies = dict(zip(services, statuses, strict=True))
    healthy = all(status == "SERVING" for status in statuses)
    body = {
        "status": "ok" if healthy else "degraded",
        "dependencies": dependencies,
        "demo": request.app.state.settings.demo,
    }
    return JSONResponse(body, status_code=200 if healthy else 503)
