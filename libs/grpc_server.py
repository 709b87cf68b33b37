"""The grpc.aio server of a service (see :class:`libs.service.Service`).

Health service with real per-service status (readiness checks polled in the background), a
``liveness`` entry for the kubelet's liveness probe, reflection, the default interceptors (with the
caller credential check of :mod:`libs.caller_auth`), TLS when given certificates, and a graceful
stop: NOT_SERVING -> drain -> stop (the runner, ``libs.runner``, stops it on SIGTERM).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from libs.caller_auth import CallerAuth, ServerTls
from libs.interceptors import default_interceptors
from libs.periodic import Every

__all__ = ["LIVENESS_SERVICE", "GrpcServer", "ReadinessCheck"]

log = logging.getLogger("leadmesh.server")

ReadinessCheck = Callable[[], Awaitable[bool]]

# The health entry liveness probes ask: SERVING from start until stop begins, whatever the
# readiness checks say. The process is alive when its event loop answers a health check; an
# outage of the store or the broker makes it unready, never restarted.
LIVENESS_SERVICE = "liveness"


@dataclass
class GrpcServer:
    """One process's gRPC server.

    ``services`` maps full service names (``leadmesh.billing.v1.BillingService``) to the
    function that adds the servicer to a server. Every check in ``readiness`` must pass for the
    services to report SERVING; they are re-run every ``check_interval`` seconds. The
    ``LIVENESS_SERVICE`` entry reports SERVING from start until ``stop()``. Each of ``drained``
    is awaited once the calls under way have finished at stop (work they left going in the
    background), before the process closes its clients. ``auth`` checks every call's credential
    but health's and reflection's (a service always has one; only the kit's own tests run
    without); ``tls`` serves TLS instead of plaintext.
    """

    name: str
    address: str
    services: dict[str, Callable[[grpc.aio.Server], None]]
    readiness: Sequence[ReadinessCheck] = ()
    grace: float = 10.0
    drain_delay: float = 0.0
    check_interval: float = 5.0
    drained: Sequence[Callable[[], Awaitable[object]]] = ()
    port: int = 0
    auth: CallerAuth | None = None
    tls: ServerTls | None = None
    _server: grpc.aio.Server = field(init=False)
    _health: health.aio.HealthServicer = field(init=False)
    _checks: Every | None = field(init=False, default=None)
    _stopping: bool = field(init=False, default=False)

    async def start(self) -> int:
        """Binds, starts serving and returns the bound port (useful with ``host:0``)."""
        self._server = grpc.aio.server(
            interceptors=default_interceptors(self.auth),
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        for add in self.services.values():
            add(self._server)
        reflection.enable_server_reflection(
            [
                *self.services,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            self._server,
        )
        # RuntimeError when it cannot bind
        if self.tls is not None:
            self.port = self._server.add_secure_port(self.address, self.tls.credentials())
        else:
            self.port = self._server.add_insecure_port(self.address)
        if self.auth is not None:
            await self.auth.start()
        await self._health.set(LIVENESS_SERVICE, health_pb2.HealthCheckResponse.SERVING)
        await self._server.start()
        await self._update_health()
        self._checks = Every(self.check_interval, self._update_health)
        await self._checks.start()
        log.info("serving", extra={"address": self.address, "port": self.port})
        return self.port

    async def _update_health(self) -> None:
        ok = True
        for check in self.readiness:
            try:
                ok = ok and await check()
            except Exception:
                log.warning("readiness check failed", exc_info=True)
                ok = False
        status = health_pb2.HealthCheckResponse.SERVING if ok else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *self.services):
            await self._health.set(name, status)

    async def stop(self) -> None:
        """NOT_SERVING (liveness too), wait for balancers to notice, then let in-flight calls finish."""
        if self._stopping:
            return
        self._stopping = True
        if self._checks is not None:
            await self._checks.stop()
        await self._health.enter_graceful_shutdown()
        if self.drain_delay:
            await asyncio.sleep(self.drain_delay)
        await self._server.stop(self.grace)
        if self.auth is not None:
            await self.auth.stop()
        for wait in self.drained:
            await wait()
        log.info("stopped")
