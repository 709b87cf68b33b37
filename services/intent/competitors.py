"""The account's ICP competitors, read from the scoring service and kept for a minute.

Competitor signals are a refinement: when scoring does not answer in time, a request carries on
without them (technologies stay ``adopted_<slug>``) rather than failing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import grpc

from leadmesh.scoring.v1 import scoring_service_pb2 as scoring_pb
from leadmesh.scoring.v1 import scoring_service_pb2_grpc as scoring_grpc
from libs.ttlcache import TtlCache

__all__ = ["CompetitorDirectory"]

log = logging.getLogger(__name__)

# After a failed lookup, how long an account goes without competitors before asking again.
FAILURE_BACKOFF = 5.0


class CompetitorDirectory:
    def __init__(
        self,
        stub: scoring_grpc.ScoringServiceStub,
        timeout: float,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stub = stub
        self.timeout = timeout
        self._cache: TtlCache[str, tuple[str, ...]] = TtlCache(ttl, 10_000, clock)

    async def competitors(self, account_id: str, time_left: float | None = None) -> tuple[str, ...]:
        """The competitors of the account's current ICP profile; () when unknown or unreachable."""
        if not account_id:
            return ()
        cached = self._cache.get(account_id)
        if cached is not None:
            return cached
        timeout = self.timeout if time_left is None else max(0.001, min(self.timeout, time_left))
        try:
            response = await self.stub.GetIcpProfile(
                scoring_pb.GetIcpProfileRequest(account_id=account_id), timeout=timeout
            )
        except grpc.aio.AioRpcError as exc:
            log.warning(
                "ICP competitors unavailable; answering without competitor signals",
                extra={"account_id": account_id, "grpc_code": str(exc.code())},
            )
            if timeout >= self.timeout:  # scoring's fault, not a caller short of time: back off
                self._cache.put(account_id, (), FAILURE_BACKOFF)
            return ()
        competitors = tuple(c for c in response.profile.competitors if c.strip())
        self._cache.put(account_id, competitors)
        return competitors
