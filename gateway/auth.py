"""Bearer API-key authentication through the billing service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import grpc
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.errors import ApiError
from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from libs.errors import error_from_rpc

__all__ = ["Caller", "CurrentCaller"]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
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
        raise ApiError(
            401, "missing API key: send `Authorization: Bearer <key>`", "API_KEY_MISSING", _CHALLENGE
        )
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(401, "the Authorization header must be `Bearer <key>`", "API_KEY_INVALID", _CHALLENGE)
    mesh = request.app.state.mesh
    try:
        response = await mesh.billing.Authenticate(
            billing_pb.AuthenticateRequest(api_key=credentials.credentials)
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
            error = error_from_rpc(exc)
            raise ApiError(401, error.message, error.reason, _CHALLENGE) from None
        raise
    return Caller(
        account_id=response.account_id,
        key_prefix=response.api_key.prefix,
        test_mode=response.api_key.mode == billing_pb.API_KEY_MODE_TEST,
    )


CurrentCaller = Annotated[Caller, Depends(authenticate)]
