"""Caller credentials on the gRPC ports: a real billing service over the embedded store, called
with and without credentials, with the wrong scopes, after a revocation, and over TLS."""

from __future__ import annotations

import datetime
import importlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from pymongo.asynchronous.database import AsyncDatabase

from leadmesh.billing.v1 import billing_service_pb2 as pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from leadmesh.privacy.v1 import privacy_service_pb2  # noqa: F401 - registers PrivacyService
from libs.caller_auth import SCOPES
from libs.channels import CallerCredential, ChannelPool, open_channel
from libs.credentials import SigningKey
from libs.errors import PermissionDenied, error_from_rpc
from libs.grpc_clients import GrpcClients
from libs.mongo import Document
from libs.privacy_service import PRIVACY_SERVICE
from libs.service import Service
from services.billing.app import create_server
from services.billing.settings import BillingSettings
from tests import grpc_callers
from tests.waiting import eventually

SERVICES = ("batch", "billing", "enrichment", "intent", "providers", "scoring", "verifier")


@pytest_asyncio.fixture
async def billing(db: AsyncDatabase[Document]) -> AsyncIterator[tuple[Service, str]]:
    service = await create_server(
        db, BillingSettings(shutdown_grace=1, grpc_revocation_interval=0.1), "127.0.0.1:0"
    )
    port = await service.start()
    yield service, f"127.0.0.1:{port}"
    await service.stop()


async def failure(
    address: str, token: str | None, call: str = "GetAccount"
) -> tuple[grpc.StatusCode, str, dict]:
    requests = {
        "GetAccount": pb.GetAccountRequest(account_id="acct_x"),
        "AddCredits": pb.AddCreditsRequest(account_id="acct_x", idempotency_key="k", amount=5),
        "Authenticate": pb.AuthenticateRequest(api_key="lm_live_" + "x" * 32),
    }
    async with grpc_callers.channel(address, token) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await getattr(pb_grpc.BillingServiceStub(channel), call)(requests[call], timeout=5)
    error = error_from_rpc(caught.value)
    return caught.value.code(), error.reason, error.metadata


async def test_a_call_without_a_credential_is_unauthenticated(billing: tuple[Service, str]) -> None:
    code, reason, _ = await failure(billing[1], None)
    assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "CREDENTIAL_MISSING")


async def test_a_credential_not_signed_by_the_mesh_key_is_unauthenticated(
    billing: tuple[Service, str],
) -> None:
    forged = SigningKey.generate().issue("intruder", SCOPES)
    assert await failure(billing[1], forged) == (grpc.StatusCode.UNAUTHENTICATED, "CREDENTIAL_INVALID", {})
    garbage = await failure(billing[1], "not-a-token")
    assert garbage[:2] == (grpc.StatusCode.UNAUTHENTICATED, "CREDENTIAL_INVALID")
    tampered = grpc_callers.ADMIN_TOKEN[:-4] + (
        "AAAA" if not grpc_callers.ADMIN_TOKEN.endswith("AAAA") else "BBBB"
    )
    assert (await failure(billing[1], tampered))[1] == "CREDENTIAL_INVALID"


async def test_an_expired_credential_is_unauthenticated(billing: tuple[Service, str]) -> None:
    expired = grpc_callers.SIGNING_KEY.issue("short-lived", ["billing:read"], expires_in=-1)
    assert (await failure(billing[1], expired))[:2] == (grpc.StatusCode.UNAUTHENTICATED, "CREDENTIAL_EXPIRED")


async def test_a_credential_without_the_rpc_scope_is_permission_denied_and_with_it_passes(
    billing: tuple[Service, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="leadmesh.rpc")
    reader = grpc_callers.SIGNING_KEY.issue("team-reader", ["billing:read", "enrich"])
    code, reason, metadata = await failure(billing[1], reader, "AddCredits")
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "SCOPE_MISSING")
    assert metadata["scope"] == "billing:admin"
    assert metadata["method"] == "/leadmesh.billing.v1.BillingService/AddCredits"
    # billing:read reaches the RPC itself: the account does not exist.
    code, reason, _ = await failure(billing[1], reader, "GetAccount")
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "ACCOUNT_NOT_FOUND")
    # Each call's log line names its caller.
    callers = [getattr(r, "caller", None) for r in caplog.records if r.name == "leadmesh.rpc"]
    assert callers[-2:] == ["team-reader", "team-reader"]


async def test_account_keys_and_credits_need_billing_admin(billing: tuple[Service, str]) -> None:
    charger = grpc_callers.SIGNING_KEY.issue("leadmesh-enrichment", ["billing:read", "billing:charge"])
    async with grpc_callers.channel(billing[1], charger) as channel:
        stub = pb_grpc.BillingServiceStub(channel)
        for call, request in (
            (stub.CreateAccount, pb.CreateAccountRequest(name="Mallory", initial_credits=10**6)),
            (stub.CreateApiKey, pb.CreateApiKeyRequest(account_id="acct_x")),
            (stub.RevokeApiKey, pb.RevokeApiKeyRequest(prefix="lm_live_abcdefgh", account_id="acct_x")),
            (stub.AddCredits, pb.AddCreditsRequest(account_id="acct_x", idempotency_key="k", amount=9)),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(request, timeout=5)
            assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_health_and_reflection_stay_open(billing: tuple[Service, str]) -> None:
    async with grpc.aio.insecure_channel(billing[1]) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        stream = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        names = [s.name async for answer in stream for s in answer.list_services_response.service]
    assert "leadmesh.billing.v1.BillingService" in names


async def test_a_revoked_client_is_refused_within_seconds(
    billing: tuple[Service, str], db: AsyncDatabase[Document]
) -> None:
    clients = GrpcClients(db)
    record, token = await clients.create(grpc_callers.SIGNING_KEY, "growth team", ["billing:read"], SCOPES)
    _, kept = await clients.create(grpc_callers.SIGNING_KEY, "sales ops", ["billing:read"], SCOPES)
    assert billing[0].server is not None and billing[0].server.auth is not None
    await billing[0].server.auth.refresh()
    async with grpc_callers.channel(billing[1], token) as channel:
        stub = pb_grpc.BillingServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as before:
            await stub.GetAccount(pb.GetAccountRequest(account_id="acct_x"), timeout=5)
        assert before.value.code() == grpc.StatusCode.NOT_FOUND  # let in
        await clients.revoke(record.client_id)

        async def refused() -> bool:
            try:
                await stub.GetAccount(pb.GetAccountRequest(account_id="acct_x"), timeout=5)
            except grpc.aio.AioRpcError as exc:
                return error_from_rpc(exc).reason == "CREDENTIAL_REVOKED"
            return False

        await eventually(refused, within=5)
    assert (await failure(billing[1], kept))[1] == "ACCOUNT_NOT_FOUND"  # the other client is let in
    assert [c.client_id for c in await clients.all() if c.revoke_time] == [record.client_id]


async def test_the_services_own_pool_attaches_its_credential(billing: tuple[Service, str]) -> None:
    pool = ChannelPool(2.0, CallerCredential(grpc_callers.ADMIN_TOKEN))
    try:
        stub = pb_grpc.BillingServiceStub(pool.get(billing[1]))
        created = await stub.CreateAccount(pb.CreateAccountRequest(name="Acme", initial_credits=3))
        assert created.account.balance >= 3
    finally:
        await pool.close()
    bare = ChannelPool(2.0)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pb_grpc.BillingServiceStub(bare.get(billing[1])).GetBalance(
                pb.GetBalanceRequest(account_id="a")
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await bare.close()


PRIVACY_SERVERS = {"providers", "enrichment", "verifier", "intent", "batch"}


def test_every_rpc_of_every_service_declares_a_scope() -> None:
    for name in SERVICES:
        app = importlib.import_module(f"services.{name}.app")
        served = [app.SERVICE_NAME]
        if name in PRIVACY_SERVERS:  # every service that keeps people serves PrivacyService too
            served.append(PRIVACY_SERVICE)
        methods = {
            f"/{service.full_name}/{method.name}"
            for service in map(descriptor_pool.Default().FindServiceByName, served)
            for method in service.methods
        }
        assert methods, name
        assert methods == set(app.SCOPES), f"{name}: {sorted(methods ^ set(app.SCOPES))}"
        assert set(app.SCOPES.values()) <= set(SCOPES)


async def test_an_rpc_without_a_declared_scope_is_denied(db: AsyncDatabase[Document]) -> None:
    """Fail closed: a method missing from the table is refused even to a caller with every scope."""
    service = await create_server(db, BillingSettings(shutdown_grace=1), "127.0.0.1:0")
    assert service.server is not None and service.server.auth is not None
    del service.server.auth.scopes["/leadmesh.billing.v1.BillingService/GetAccount"]
    port = await service.start()
    try:
        code, reason, metadata = await failure(f"127.0.0.1:{port}", grpc_callers.ADMIN_TOKEN)
        assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "SCOPE_UNDECLARED")
    finally:
        await service.stop()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


async def test_tls_when_the_operator_gives_certificate_files(
    db: AsyncDatabase[Document], tmp_path: Path
) -> None:
    cert, key = _self_signed(tmp_path)
    settings = BillingSettings(
        shutdown_grace=1, grpc_tls_cert_file=cert, grpc_tls_key_file=key, grpc_tls_ca_file=cert
    )
    service = await create_server(db, settings, "127.0.0.1:0")
    port = await service.start()
    address = f"localhost:{port}"
    try:
        credential = CallerCredential.of(settings)
        assert credential.root_certificates == cert.read_bytes()
        async with open_channel(address, credential) as channel:
            created = await pb_grpc.BillingServiceStub(channel).CreateAccount(
                pb.CreateAccountRequest(name="Acme")
            )
            assert created.account.account_id
        async with grpc.aio.insecure_channel(address) as plaintext:  # a plaintext client gets nowhere
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await health_pb2_grpc.HealthStub(plaintext).Check(health_pb2.HealthCheckRequest(), timeout=2)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await service.stop()


async def test_a_service_without_a_verify_key_refuses_to_start(db: AsyncDatabase[Document]) -> None:
    settings = BillingSettings(grpc_verify_key=None, grpc_verify_key_file=None)
    with pytest.raises(ValueError, match="LEADMESH_GRPC_VERIFY_KEY_FILE"):
        await create_server(db, settings, "127.0.0.1:0")


async def test_a_credential_bound_to_an_account_acts_for_that_account_only(
    billing: tuple[Service, str],
) -> None:
    def bound(account: str) -> str:
        return grpc_callers.SIGNING_KEY.issue("crm-sync", ["billing:read"], account_id=account)

    # Its own account reaches the RPC (which finds no such account).
    assert (await failure(billing[1], bound("acct_x")))[1] == "ACCOUNT_NOT_FOUND"
    code, reason, metadata = await failure(billing[1], bound("acct_y"))
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "ACCOUNT_MISMATCH")
    assert metadata["account_id"] == "acct_y"
    # A request that names no account cannot be checked, so it is refused (fail closed).
    code, reason, _ = await failure(billing[1], bound("acct_x"), "Authenticate")
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "ACCOUNT_UNCHECKED")
    # The same call with an unbound credential is let in (the key is simply not valid).
    assert (await failure(billing[1], grpc_callers.ADMIN_TOKEN, "Authenticate"))[1] == "API_KEY_INVALID"


async def test_each_message_of_a_request_stream_is_held_to_the_bound_account(
    billing: tuple[Service, str],
) -> None:
    assert billing[0].server is not None and billing[0].server.auth is not None
    auth = billing[0].server.auth
    caller = auth.identify(
        [("authorization", f"Bearer {grpc_callers.SIGNING_KEY.issue('c', [], account_id='a')}")]
    )

    async def stream() -> AsyncIterator[pb.GetAccountRequest]:
        yield pb.GetAccountRequest(account_id="a")
        yield pb.GetAccountRequest(account_id="b")

    held = auth.bind(caller, stream())
    assert (await anext(held)).account_id == "a"
    with pytest.raises(PermissionDenied) as caught:
        await anext(held)
    assert caught.value.reason == "ACCOUNT_MISMATCH"
