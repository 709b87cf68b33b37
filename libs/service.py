"""The one shape every process's builder (``services/<name>/app.py``) returns: a :class:`Service`.

A service is its gRPC server (a worker has none), the parts that run beside it (broker links,
queue consumers, maintenance jobs: anything with ``start()``/``stop()``) and what it opened and
must close at the end (channel pools, HTTP clients, pending writes). ``libs.runner`` runs one
until SIGTERM; a test starts one on a free port with ``await service.start()``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from libs.grpc_server import GrpcServer

__all__ = ["Closer", "Part", "Service"]

log = logging.getLogger("leadmesh.server")

# Closes something the service opened (``channels.close``, ``http.aclose``, ...).
Closer = Callable[[], Awaitable[object]]
P = TypeVar("P")


class Part(Protocol):
    """Something a service runs beside its gRPC server, from before it serves until it has
    drained: a broker link, queue consumers, a maintenance job (:class:`libs.periodic.Every`).
    ``stop()`` is safe whether ``start()`` ran, failed half-way or never ran (it stops what is
    running and closes what the part holds)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Service:
    """``start()`` starts the ``parts`` in order, then the ``server``, and returns its bound port
    (0 without a server). ``stop()``, also after a failed ``start()``: the server (if it started)
    goes NOT_SERVING, drains and stops, the parts stop in reverse order, then the ``closers`` run
    in reverse order (list them in the order things were opened). A second ``stop()`` does
    nothing.
    """

    server: GrpcServer | None = None
    parts: Sequence[Part] = ()
    closers: Sequence[Closer] = ()
    port: int = field(default=0, init=False)
    _serving: bool = field(default=False, init=False, repr=False)
    _stopped: bool = field(default=False, init=False, repr=False)

    async def start(self) -> int:
        for part in self.parts:
            await part.start()
        if self.server is not None:
            self.port = await self.server.start()
            self._serving = True
        return self.port

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.server is not None and self._serving:
            await _carefully(self.server.stop, "the server")
        for part in reversed(self.parts):
            await _carefully(part.stop, type(part).__name__)
        for close in reversed(self.closers):
            await _carefully(close, getattr(close, "__qualname__", repr(close)))

    def part(self, kind: type[P]) -> P:
        """The first of ``parts`` that is a ``kind`` (LookupError without one)."""
        for part in self.parts:
            if isinstance(part, kind):
                return part
        raise LookupError(f"no {kind.__name__} among the service's parts")


async def _carefully(step: Closer, what: str) -> None:
    """One step of stopping: a failure is logged, and the steps after it still run (a client
    left open is worse than a stop that reports an error)."""
    try:
        await step()
    except Exception:
        log.exception("stopping failed", extra={"step": what})
