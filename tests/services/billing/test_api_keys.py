"""API keys through the real BillingService over gRPC: issue, authenticate, list, revoke."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.billing.v1 import billing_service_pb2 as pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from libs.errors import error_from_rpc
from libs.mongo import Document

LIVE_KEY = re.compile(r"^lm_live_[0-9A-Za-z]{32}$")
TEST_KEY = re.compile(r"^lm_test_[0-9A-Za-z]{32}$")


async def new_account(billing: pb_grpc.BillingServiceStub) -> str:
    response = await billing.CreateAccount(pb.CreateAccountRequest(name="Acme"))
    return response.account.account_id


async def new_key(
    billing: pb_grpc.BillingServiceStub, account_id: str, mode: pb.ApiKeyMode.ValueType = pb.API_KEY_MODE_LIVE
) -> pb.CreateApiKeyResponse:
    return await billing.CreateApiKey(pb.CreateApiKeyRequest(account_id=account_id, mode=mode, name="ci"))


async def authenticate_error(billing: pb_grpc.BillingServiceStub, secret: str) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await billing.Authenticate(pb.AuthenticateRequest(api_key=secret))
    return caught.value.code(), error_from_rpc(caught.value).reason


def strings_in(value: Any) -> Iterator[str]:
    """Every string anywhere in a stored document: values, nested values and field names."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, bytes):
        yield value.decode("latin-1")


async def everything_stored(db: AsyncDatabase[Document]) -> list[str]:
    stored: list[str] = []
    for name in await db.list_collection_names():
        async for doc in db[name].find({}):
            stored += strings_in(doc)
    return stored


async def test_create_account_with_a_key_returns_a_live_secret_that_authenticates(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    created = await billing.CreateAccount(pb.CreateAccountRequest(name="Acme", create_api_key=True))
    secret = created.api_key_secret
    assert LIVE_KEY.match(secret), secret
    assert created.api_key.prefix == secret[:16]
    assert created.api_key.mode == pb.API_KEY_MODE_LIVE
    assert created.api_key.state == pb.ApiKey.STATE_ACTIVE
    assert created.api_key.account_id == created.account.account_id

    authenticated = await billing.Authenticate(pb.AuthenticateRequest(api_key=secret))
    assert authenticated.account_id == created.account.account_id
    assert authenticated.api_key.key_id == created.api_key.key_id


async def test_an_account_created_without_a_key_gets_no_secret(billing: pb_grpc.BillingServiceStub) -> None:
    created = await billing.CreateAccount(pb.CreateAccountRequest(name="Acme"))
    assert created.api_key_secret == ""
    keys = await billing.ListApiKeys(pb.ListApiKeysRequest(account_id=created.account.account_id))
    assert list(keys.api_keys) == []


async def test_a_test_mode_key_is_lm_test_and_authenticates(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    created = await new_key(billing, account_id, pb.API_KEY_MODE_TEST)
    assert TEST_KEY.match(created.api_key_secret), created.api_key_secret
    assert created.api_key.prefix == created.api_key_secret[:16]
    assert created.api_key.mode == pb.API_KEY_MODE_TEST
    authenticated = await billing.Authenticate(pb.AuthenticateRequest(api_key=created.api_key_secret))
    assert authenticated.account_id == account_id


async def test_the_secret_is_stored_only_as_its_sha256(
    billing: pb_grpc.BillingServiceStub, db: AsyncDatabase[Document]
) -> None:
    created = await billing.CreateAccount(pb.CreateAccountRequest(name="Acme", create_api_key=True))
    secret = created.api_key_secret
    await billing.Authenticate(pb.AuthenticateRequest(api_key=secret))

    stored = await everything_stored(db)
    assert stored, "the scan found no documents at all"
    assert not [s for s in stored if secret in s]
    assert hashlib.sha256(secret.encode()).hexdigest() in stored


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("lm_live_" + "A" * 32, id="unknown-well-formed"),
        pytest.param("lm_live_tooShort", id="malformed"),
        pytest.param("sk_live_" + "A" * 32, id="foreign-prefix"),
        pytest.param("", id="empty"),
    ],
)
async def test_unknown_malformed_and_empty_keys_are_unauthenticated(
    billing: pb_grpc.BillingServiceStub, secret: str
) -> None:
    await billing.CreateAccount(pb.CreateAccountRequest(name="Acme", create_api_key=True))
    assert await authenticate_error(billing, secret) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_INVALID")


async def test_a_key_differing_from_a_real_one_in_its_last_character_is_rejected(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    created = await billing.CreateAccount(pb.CreateAccountRequest(name="Acme", create_api_key=True))
    secret = created.api_key_secret
    forged = secret[:-1] + ("a" if secret[-1] != "a" else "b")
    assert await authenticate_error(billing, forged) == (grpc.StatusCode.UNAUTHENTICATED, "API_KEY_INVALID")


async def test_a_revoked_key_no_longer_authenticates(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    revoked_key = await new_key(billing, account_id)
    kept_key = await new_key(billing, account_id)

    revoked = await billing.RevokeApiKey(
        pb.RevokeApiKeyRequest(prefix=revoked_key.api_key.prefix, account_id=account_id)
    )
    assert revoked.api_key.state == pb.ApiKey.STATE_REVOKED
    assert revoked.api_key.HasField("revoke_time")

    assert await authenticate_error(billing, revoked_key.api_key_secret) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "API_KEY_REVOKED",
    )
    still = await billing.Authenticate(pb.AuthenticateRequest(api_key=kept_key.api_key_secret))
    assert still.account_id == account_id


async def test_revoking_twice_is_fine_and_keeps_the_first_revoke_time(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    key = await new_key(billing, account_id)
    first = await billing.RevokeApiKey(
        pb.RevokeApiKeyRequest(prefix=key.api_key.prefix, account_id=account_id)
    )
    second = await billing.RevokeApiKey(
        pb.RevokeApiKeyRequest(prefix=key.api_key.prefix, account_id=account_id)
    )
    assert second.api_key.state == pb.ApiKey.STATE_REVOKED
    assert second.api_key.revoke_time == first.api_key.revoke_time
    assert await authenticate_error(billing, key.api_key_secret) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "API_KEY_REVOKED",
    )


async def test_revoking_an_unknown_prefix_is_not_found(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    await new_key(billing, account_id)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await billing.RevokeApiKey(pb.RevokeApiKeyRequest(prefix="lm_live_Zz9Zz9Zz", account_id=account_id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_from_rpc(caught.value).reason == "API_KEY_NOT_FOUND"


async def test_a_key_is_revoked_only_within_its_account(billing: pb_grpc.BillingServiceStub) -> None:
    """An empty account_id is no wildcard, and another account's id finds nothing: the key works on."""
    account_id, other_account = await new_account(billing), await new_account(billing)
    key = await new_key(billing, account_id)
    with pytest.raises(grpc.aio.AioRpcError) as empty:
        await billing.RevokeApiKey(pb.RevokeApiKeyRequest(prefix=key.api_key.prefix))
    assert empty.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_from_rpc(empty.value).reason == "ACCOUNT_ID_REQUIRED"
    with pytest.raises(grpc.aio.AioRpcError) as other:
        await billing.RevokeApiKey(
            pb.RevokeApiKeyRequest(prefix=key.api_key.prefix, account_id=other_account)
        )
    assert error_from_rpc(other.value).reason == "API_KEY_NOT_FOUND"
    still = await billing.Authenticate(pb.AuthenticateRequest(api_key=key.api_key_secret))
    assert still.account_id == account_id


async def test_list_shows_revoked_keys_and_pages_through_all_of_them(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    account_id = await new_account(billing)
    other_account = await new_account(billing)
    await new_key(billing, other_account)
    created = [await new_key(billing, account_id) for _ in range(5)]
    revoked_prefix = created[2].api_key.prefix
    await billing.RevokeApiKey(pb.RevokeApiKeyRequest(prefix=revoked_prefix, account_id=account_id))

    listed: list[pb.ApiKey] = []
    pages = 0
    token = ""
    while True:
        page = await billing.ListApiKeys(
            pb.ListApiKeysRequest(account_id=account_id, page_size=2, page_token=token)
        )
        pages += 1
        assert len(page.api_keys) <= 2
        listed += page.api_keys
        token = page.next_page_token
        if not token:
            break
        assert pages < 10, "pagination does not terminate"

    assert pages == 3
    assert len(listed) == 5
    assert {k.key_id for k in listed} == {c.api_key.key_id for c in created}
    states = {k.prefix: k.state for k in listed}
    assert states[revoked_prefix] == pb.ApiKey.STATE_REVOKED
    assert sum(s == pb.ApiKey.STATE_ACTIVE for s in states.values()) == 4
    assert all(k.account_id == account_id for k in listed)


async def test_two_keys_of_one_account_have_different_secrets(billing: pb_grpc.BillingServiceStub) -> None:
    account_id = await new_account(billing)
    first = await new_key(billing, account_id)
    second = await new_key(billing, account_id)
    assert first.api_key_secret != second.api_key_secret
    assert first.api_key.prefix != second.api_key.prefix
    assert first.api_key.key_id != second.api_key.key_id
    for key in (first, second):
        authenticated = await billing.Authenticate(pb.AuthenticateRequest(api_key=key.api_key_secret))
        assert authenticated.api_key.key_id == key.api_key.key_id


async def test_create_api_key_for_an_unknown_account_is_not_found(
    billing: pb_grpc.BillingServiceStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await new_key(billing, "acct_nope")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_from_rpc(caught.value).reason == "ACCOUNT_NOT_FOUND"
