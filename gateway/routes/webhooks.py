"""GET /v1/webhooks/secret and POST /v1/webhooks/secret/rotate: the secret an account's webhook
receivers verify ``Leadmesh-Signature`` with, and its rotation (the replaced secret keeps signing
for ``LEADMESH_WEBHOOK_SECRET_GRACE`` seconds: each delivery then carries a ``v1=`` signature per
secret, so a receiver verifying with either accepts it)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from fastapi import APIRouter, Request

from gateway import examples
from gateway.auth import CurrentCaller
from leadmesh.batch.v1 import batch_service_pb2 as pb

router = APIRouter(prefix="/v1", tags=["csv jobs"])

SCHEME = "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, '<t>.' + body)>[,v1=<the same with a replaced secret>]"
ROTATED = {
    **examples.WEBHOOK_SECRET,
    "scheme": SCHEME,
    "previous_secret_expires_at": "2026-11-21T09:20:00Z",
}


@router.get(
    "/webhooks/secret",
    summary="The secret your webhook receivers verify signatures with",
    responses={200: examples.json_example({**examples.WEBHOOK_SECRET, "scheme": SCHEME})},
)
async def webhook_secret(request: Request, caller: CurrentCaller) -> Any:
    got = await request.app.state.mesh.batch.GetWebhookSecret(
        pb.GetWebhookSecretRequest(account_id=caller.account_id)
    )
    return {
        "secret": got.secret,
        "header": "Leadmesh-Signature",
        "scheme": SCHEME,
        "livemode": not caller.test_mode,
    }


@router.post(
    "/webhooks/secret/rotate",
    summary="Replace your webhook secret; the old one keeps signing for a grace period",
    responses={200: examples.json_example(ROTATED)},
)
async def rotate_webhook_secret(request: Request, caller: CurrentCaller) -> Any:
    rotated = await request.app.state.mesh.batch.RotateWebhookSecret(
        pb.RotateWebhookSecretRequest(account_id=caller.account_id)
    )
    until = rotated.previous_secret_expire_time.ToDatetime(tzinfo=UTC)
    return {
        "secret": rotated.secret,
        "header": "Leadmesh-Signature",
        "scheme": SCHEME,
        "previous_secret_expires_at": until.isoformat().replace("+00:00", "Z"),
        "livemode": not caller.test_mode,
    }
