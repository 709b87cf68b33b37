"""GET/POST /v1/keys and DELETE /v1/keys/{prefix}: the caller's account's API keys.

Every call is scoped to the account of the key that makes it: another account's key is a 404.
A test key (``lm_test_``) creates test keys only. Revoking clears this gateway's cache of
authenticated keys, so the revoked key stops working here at once (elsewhere within
``AUTH_CACHE_TTL`` seconds).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, Field

from gateway import examples
from gateway.auth import Caller, CurrentCaller
from gateway.errors import ApiError
from leadmesh.billing.v1 import billing_service_pb2 as pb
from libs.ttlcache import TtlCache

router = APIRouter(prefix="/v1", tags=["api keys"])

KEY_EXAMPLE = {
    "prefix": "lm_live_Ab3dE9xQ",
    "name": "CRM sync",
    "mode": "live",
    "status": "active",
    "created_at": "2026-04-15T09:18:44Z",
    "last_used_at": "2026-04-16T10:02:11Z",
    "revoked_at": None,
    "current": False,
}


_NEW_KEY = {"name": "CRM sync", "mode": "live"}


class ApiKey(BaseModel):
    prefix: str = Field(description="Names the key; never enough to use it")
    name: str
    mode: Literal["live", "test"]
    status: Literal["active", "revoked"]
    created_at: datetime
    last_used_at: datetime | None = Field(description="To within a minute; null if never used")
    revoked_at: datetime | None
    current: bool = Field(description="The key this request was made with")


class ApiKeys(BaseModel):
    keys: list[ApiKey]
    next_page_token: str | None


class NewApiKeyIn(BaseModel):
    model_config = {"extra": "forbid"}
    name: str = Field(default="", max_length=200)
    mode: Literal["live", "test"] = "live"


class NewApiKey(ApiKey):
    secret: str = Field(description="The whole key. Shown once: store it now")


def _time(stamp: object, present: bool) -> datetime | None:
    return stamp.ToDatetime(tzinfo=UTC) if present else None  # type: ignore[attr-defined]


def _key(key: pb.ApiKey, caller: Caller) -> ApiKey:
    return ApiKey(
        prefix=key.prefix,
        name=key.name,
        mode="test" if key.mode == pb.API_KEY_MODE_TEST else "live",
        status="revoked" if key.state == pb.ApiKey.STATE_REVOKED else "active",
        created_at=key.create_time.ToDatetime(tzinfo=UTC),
        last_used_at=_time(key.last_use_time, key.HasField("last_use_time")),
        revoked_at=_time(key.revoke_time, key.HasField("revoke_time")),
        current=key.prefix == caller.key_prefix,
    )


@router.get(
    "/keys",
    response_model=ApiKeys,
    summary="Your account's API keys, newest first",
    responses={200: examples.json_example({"keys": [KEY_EXAMPLE], "next_page_token": None})},
)
async def list_keys(
    request: Request,
    caller: CurrentCaller,
    page_size: Annotated[int, Query(ge=1, le=100, description="Keys per page")] = 100,
    page_token: Annotated[
        str | None, Query(max_length=512, description="From a previous next_page_token")
    ] = None,
) -> ApiKeys:
    listed = await request.app.state.mesh.billing.ListApiKeys(
        pb.ListApiKeysRequest(account_id=caller.account_id, page_size=page_size, page_token=page_token or "")
    )
    return ApiKeys(
        keys=[_key(key, caller) for key in listed.api_keys], next_page_token=listed.next_page_token or None
    )


@router.post(
    "/keys",
    response_model=NewApiKey,
    status_code=201,
    summary="Create an API key (its secret is shown once)",
    responses={201: examples.json_example({**KEY_EXAMPLE, "secret": "lm_live_Ab3dE9xQ" + "x" * 24})},
)
async def create_key(
    request: Request,
    caller: CurrentCaller,
    body: Annotated[
        NewApiKeyIn,
        Body(
            openapi_examples={
                "live": {"summary": "A live key", "value": {"name": "CRM sync", "mode": "live"}}
            }
        ),
    ],
) -> NewApiKey:
    if caller.test_mode and body.mode == "live":
        raise ApiError(403, "a test key can create test keys only", "TEST_KEY_CANNOT_CREATE_LIVE_KEY")
    created = await request.app.state.mesh.billing.CreateApiKey(
        pb.CreateApiKeyRequest(
            account_id=caller.account_id,
            mode=pb.API_KEY_MODE_TEST if body.mode == "test" else pb.API_KEY_MODE_LIVE,
            name=body.name.strip(),
        )
    )
    return NewApiKey(**_key(created.api_key, caller).model_dump(), secret=created.api_key_secret)


@router.delete(
    "/keys/{prefix}",
    response_model=ApiKey,
    summary="Revoke an API key of your account",
    responses={
        200: examples.json_example({**KEY_EXAMPLE, "status": "revoked", "revoked_at": "2026-04-17T08:00:00Z"})
    },
)
async def revoke_key(
    request: Request,
    caller: CurrentCaller,
    prefix: Annotated[str, Path(min_length=1, max_length=64, description='e.g. "lm_live_Ab3dE9xQ"')],
) -> ApiKey:
    revoked = await request.app.state.mesh.billing.RevokeApiKey(
        pb.RevokeApiKeyRequest(prefix=prefix, account_id=caller.account_id)
    )
    cache: TtlCache[str, Caller] | None = getattr(request.app.state, "auth_cache", None)
    if cache is not None:
        cache.clear()
    return _key(revoked.api_key, caller)
