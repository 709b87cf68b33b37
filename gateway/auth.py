"""Bearer API-key authentication through the billing service.

Successful answers are cached in-process for ``AUTH_CACHE_TTL`` seconds (keyed by the SHA-256 of
the key, at most ``AUTH_CACHE_SIZE`` entries, least recently used dropped first), so a revoked key
keeps working for up to that long on a gateway that saw it recently. Failures are never cached;
each spends one of its client address's failure budget, and an address without any is answered
429 before its key reaches billing. Every authenticated call then spends its key's budget of the
route's class (:mod:`gateway.limits`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated

import grpc
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.errors import ApiError
from gateway.limits import Limits
from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from libs.ttlcache import TtlCache

__all__ = ["Caller", "CurrentCaller"]

AUTH_CACHE_TTL = 5.0
AUTH_CACHE_SIZE = 10_000
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer lm_live_...`")


@dataclass(frozen=True)
class Caller:
    account_id: str
    key_prefix: str
    test_mode: bool


async def authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    header = request.headers.get("authorization")
    if not header:
        raise ApiError(401, "missing API key: send `Authorization: Bearer <key>`", "API_KEY_MISSING")
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(401, "the Authorization header must be `Bearer <key>`", "API_KEY_INVALID")
    state = request.app.state
    limits: Limits = state.limits
    caller = await _caller(request, credentials.credentials, limits)
    limits.spend(request, caller.key_prefix or caller.account_id)
    return caller


async def _caller(request: Request, key: str, limits: Limits) -> Caller:
    state = request.app.state
    cache: TtlCache[str, Caller] | None = getattr(state, "auth_cache", None)
    if cache is None:
        cache = state.auth_cache = TtlCache(AUTH_CACHE_TTL, AUTH_CACHE_SIZE)
    digest = hashlib.sha256(key.encode()).hexdigest()
    hit = cache.get(digest)
    if hit is not None:
        return hit
    address = limits.check_address(request)
    try:
        response = await state.mesh.billing.Authenticate(billing_pb.AuthenticateRequest(api_key=key))
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            limits.failed(address)
        raise
    caller = Caller(
        account_id=response.account_id,
        key_prefix=response.api_key.prefix,
        test_mode=response.api_key.mode == billing_pb.API_KEY_MODE_TEST,
    )
    cache.put(digest, caller)
    return caller


CurrentCaller = Annotated[Caller, Depends(authenticate)]
