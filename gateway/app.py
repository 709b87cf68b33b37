"""The FastAPI application: routes, error model, request ids, and the mesh clients' lifetime.

The API reference at /docs is Swagger UI served from the gateway itself (fastapi-offline's
packaged copy, under /docs/static), so it works without internet; ReDoc is off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from gateway.dashboard import mount_dashboard
from gateway.errors import install_error_handlers
from gateway.limits import Limits, RateLimitHeaders
from gateway.mesh import Mesh
from gateway.middleware import BodyLimitMiddleware, RequestIdMiddleware
from gateway.openapi import keep_example_nulls
from gateway.routes import (
    credits,
    enrich,
    health,
    icp,
    icp_preview,
    jobs,
    keys,
    signals,
    suppressions,
    usage,
    webhooks,
)
from gateway.settings import GatewaySettings

__all__ = ["create_app"]

DESCRIPTION = """
Send a raw lead and get back one scored record: verified email status, normalised title and
seniority, firmographics, buying-intent signals and a 0-100 ICP fit score.

Authenticate with `Authorization: Bearer <API key>`. Every error is
`{"error": {"type", "code", "message", "request_id"}}`, and every response carries `X-Request-Id`.

In demo mode (`LEADMESH_DEMO=true`, `leadmesh up --demo`) the data comes from the built-in demo
world (`.example` domains): every enrichment answer's `meta.demo` and `GET /healthz`'s `demo` are
`true` (both are always present, `false` outside demo mode).
"""


def create_app(settings: GatewaySettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.mesh = Mesh(settings, settings.rpc_timeout)
        try:
            yield
        finally:
            await app.state.mesh.close()

    app = FastAPIOffline(
        title="leadmesh",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        static_url="/docs/static",
        # No badge fetched from the public validator.
        swagger_ui_parameters={"validatorUrl": None},
        # Our middleware makes the one server span and the request metrics (gateway/middleware.py),
        # and our logs are JSON lines: FastAPI's own telemetry would double them, in other traces.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    app.state.limits = Limits(settings)
    install_error_handlers(app)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.gateway_max_body_bytes,
        upload_limit=settings.gateway_max_upload_bytes,
    )
    app.add_middleware(RequestIdMiddleware)  # outermost: the 413 carries the request id too
    routers = [
        health.router,
        credits.router,
        icp.router,
        signals.router,
        enrich.router,
        jobs.router,
        webhooks.router,
        suppressions.router,
    ]
    for router in routers:
        app.include_router(router)
    dashboard_routers = [usage.router, keys.router, icp_preview.router]
    for router in dashboard_routers:
        app.include_router(router)
    keep_example_nulls(app, [*routers, *dashboard_routers])
    mount_dashboard(app, settings.dashboard_dir)
    return app
