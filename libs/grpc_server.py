"""The grpc.aio server of a service (see :class:`libs.service.Service`).

Health service with real per-service status (readiness checks polled in the background), a
``liveness`` entry for the kubelet's liveness probe, reflection, the default interceptors (with the
caller credential check of :mod:`libs.caller_auth`), TLS when given certificates, and a graceful
stop: NOT_SERVING -> drain -> stop (the runner, ``libs.runner``, stops it on SIGTERM).

One caller cannot take a server down with a flood or one huge message: at most
``max_concurrent_rpcs`` calls run at once (more are refused at once with RESOURCE_EXHAUSTED), and
a message larger than the service's entry in :data:`MESSAGE_LIMITS` is refused with
RESOURCE_EXHAUSTED before it is parsed.
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

__all__ = ["LIVENESS_SERVICE", "MESSAGE_LIMITS", "GrpcServer", "MessageLimits", "ReadinessCheck"]

log = logging.getLogger("leadmesh.server")

ReadinessCheck = Callable[[], Awaitable[bool]]

# The health entry liveness probes ask: SERVING from start until stop begins, whatever the
# readiness checks say. The process is alive when its event loop answers a health check; an
# outage of the store or the broker makes it unready, never restarted.
LIVENESS_SERVICE = "liveness"

MiB = 1024 * 1024


@dataclass(frozen=True)
class MessageLimits:
    """The largest message a server takes in and sends out, in bytes."""

    receive: int = 4 * MiB  # gRPC's own default
    send: int = 4 * MiB


# Per service, what its largest RPC needs (the item caps are the services' settings' defaults; a
# raised cap may need a raised limit here). Clients (libs.channels) accept 64 MiB answers.
MESSAGE_LIMITS: dict[str, MessageLimits] = {
    # ChargeBatch/ChargeEach of 1,000 items, ledger pages of 100 entries.
    "billing": MessageLimits(receive=4 * MiB, send=4 * MiB),
    # CreateJob's chunks are 64 KiB; GetJobResult sends 256 KiB pieces; a job names its header
    # (at most one 64 KiB row) and its first 100 row issues.
    "batch": MessageLimits(receive=1 * MiB, send=4 * MiB),
    # EnrichBatch: 1,000 leads of seven 320-character fields in; their full records out.
    "enrichment": MessageLimits(receive=8 * MiB, send=64 * MiB),
    # GetSignalsBatch: 1,000 domains in, their signals with evidence out; RecordEvents batches.
    "intent": MessageLimits(receive=8 * MiB, send=64 * MiB),
    # VerifyBatch: 50,000 addresses of up to 320 characters in, a verdict each out.
    "verifier": MessageLimits(receive=32 * MiB, send=64 * MiB),
    # LookupBatch: 20,000 leads in, their person and company records out.
    "providers": MessageLimits(receive=64 * MiB, send=64 * MiB),
    # ScoreBatch: 100,000 subjects in, a score with its signals each out.
    "scoring": MessageLimits(receive=64 * MiB, send=64 * MiB),
}


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
    # Calls running at once (health checks included); None: no limit.
    max_concurrent_rpcs: int | None = None
    # None: the service's entry in MESSAGE_LIMITS (gRPC's defaults for a name not there).
    message_limits: MessageLimits | None = None
    port: int = 0
    auth: CallerAuth | None = None
    tls: ServerTls | None = None
    _server: grpc.aio.Server = field(init=False)
    _health: health.aio.HealthServicer = field(init=False)
    _checks: Every | None = field(init=False, default=None)
    _stopping: bool = field(init=False, default=False)

    async def start(self) -> int:
        """Binds, starts serving and returns the bound port (useful with ``host:0``)."""
        limits = self.message_limits or MESSAGE_LIMITS.get(self.name, MessageLimits())
        self._server = grpc.aio.server(
            interceptors=default_interceptors(self.auth),
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", limits.receive),
                ("grpc.max_send_message_length", limits.send),
            ],
            maximum_concurrent_rpcs=self.max_concurrent_rpcs,
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
