"""Verify over gRPC against loopback DNS and SMTP servers: one address, one verdict."""

from __future__ import annotations

import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.verifier.v1 import verifier_service_pb2 as pb
from leadmesh.verifier.v1 import verifier_service_pb2_grpc as pb_grpc
from libs.embedded_store import free_port
from libs.errors import error_from_rpc
from tests.services.verifier.conftest import VerifierFactory
from tests.services.verifier.mailservers import MailFarm

Stub = pb_grpc.VerifierServiceStub


async def verify(stub: Stub, email: str, timeout: float = 10.0, **options: bool) -> common.EmailVerdict:
    request = pb.VerifyRequest(email=email, options=pb.VerifyOptions(**options))
    response = await stub.Verify(request, timeout=timeout)
    return response.verdict


async def test_known_mailbox_is_valid(verifier: Stub, farm: MailFarm) -> None:
    verdict = await verify(verifier, "Alice@ACME-Corp.com")
    assert verdict.status == common.EMAIL_STATUS_VALID
    assert verdict.decided_by == common.VERIFICATION_CHECK_SMTP
    assert verdict.email == "Alice@ACME-Corp.com"
    assert verdict.normalized_email == "Alice@acme-corp.com"
    assert verdict.domain == "acme-corp.com"
    assert list(verdict.mx_hosts) == ["mx-known.lmtest"]
    assert verdict.syntax_ok and verdict.smtp_checked
    assert (verdict.smtp_code, verdict.enhanced_status_code) == (250, "2.1.5")
    assert not verdict.is_catch_all and not verdict.is_disposable and not verdict.is_role_account
    assert verdict.duration.ToNanoseconds() > 0 and verdict.checked_time.seconds > 0
    # EHLO with the configured name, MAIL FROM the configured sender, RCPT, then a random local
    # part to rule out a catch-all; never DATA.
    probes = farm.behaviours["mx-known"].rcpts  # type: ignore[union-attr]
    assert [probe.recipient for probe in probes][0] == "Alice@acme-corp.com"
    assert probes[1].recipient.startswith("lmverify-")
    assert {(probe.helo, probe.sender) for probe in probes} == {("verifier.lmtest", "probe@verifier.lmtest")}
    assert farm.behaviours["mx-known"].data_commands == 0  # type: ignore[union-attr]
    assert farm.sessions("mx-known") == 1


async def test_unknown_mailbox_is_invalid(verifier: Stub) -> None:
    verdict = await verify(verifier, "nobody@acme-corp.com")
    assert verdict.status == common.EMAIL_STATUS_INVALID
    assert verdict.decided_by == common.VERIFICATION_CHECK_SMTP
    assert (verdict.smtp_code, verdict.enhanced_status_code) == (550, "5.1.1")
    assert "User unknown" in verdict.smtp_message


async def test_catch_all_domain(verifier: Stub, farm: MailFarm) -> None:
    verdict = await verify(verifier, "anyone@catchall-corp.com")
    assert verdict.status == common.EMAIL_STATUS_CATCH_ALL
    assert verdict.decided_by == common.VERIFICATION_CHECK_CATCH_ALL
    assert verdict.is_catch_all
    recipients = [probe.recipient for probe in farm.behaviours["mx-catchall"].rcpts]  # type: ignore[union-attr]
    assert recipients[0] == "anyone@catchall-corp.com" and recipients[1].startswith("lmverify-")


async def test_greylisted_single_call_is_unknown_with_a_retry_hint(verifier: Stub, farm: MailFarm) -> None:
    verdict = await verify(verifier, "carol@greylist-corp.com")
    assert verdict.status == common.EMAIL_STATUS_UNKNOWN
    assert (verdict.smtp_code, verdict.enhanced_status_code) == (451, "4.7.1")
    assert verdict.retry_after.ToNanoseconds() > 0
    assert farm.sessions("mx-greylist") == 1


async def test_full_mailbox_is_risky(verifier: Stub) -> None:
    verdict = await verify(verifier, "someone@full-corp.com")
    assert verdict.status == common.EMAIL_STATUS_RISKY
    assert verdict.mailbox_full
    assert (verdict.smtp_code, verdict.enhanced_status_code) == (452, "4.2.2")


async def test_policy_block_is_unknown_never_invalid(verifier: Stub) -> None:
    verdict = await verify(verifier, "someone@blocked-corp.com")
    assert verdict.status == common.EMAIL_STATUS_UNKNOWN
    assert (verdict.smtp_code, verdict.enhanced_status_code) == (554, "5.7.1")
    assert "policy" in verdict.reason


async def test_server_that_never_greets_ends_unknown_within_the_timeout(verifier: Stub) -> None:
    started = time.monotonic()
    verdict = await verify(verifier, "someone@stall-corp.com")
    elapsed = time.monotonic() - started
    assert verdict.status == common.EMAIL_STATUS_UNKNOWN
    assert verdict.smtp_checked and verdict.smtp_code == 0
    assert "greeting" in verdict.reason
    assert elapsed < 0.5 + 1.5  # the connect timeout, and some slack


async def test_refused_connection_falls_through_to_the_next_mx(verifier: Stub, farm: MailFarm) -> None:
    verdict = await verify(verifier, "dana@fallback-corp.com")
    assert verdict.status == common.EMAIL_STATUS_VALID
    assert list(verdict.mx_hosts) == ["mx-refused.lmtest", "mx-known.lmtest"]
    assert farm.sessions("mx-known") == 1


async def test_4xx_greeting_falls_through_to_the_next_mx(verifier: Stub, farm: MailFarm) -> None:
    verdict = await verify(verifier, "gus@busy-corp.com")
    assert verdict.status == common.EMAIL_STATUS_VALID
    assert farm.sessions("mx-known") == 1


async def test_no_reachable_mx_is_unknown(verifier: Stub) -> None:
    verdict = await verify(verifier, "someone@deadend-corp.com")
    assert verdict.status == common.EMAIL_STATUS_UNKNOWN
    assert "could be reached" in verdict.reason


@pytest.mark.parametrize(
    ("email", "status", "check"),
    [
        ("someone@nullmx-corp.com", common.EMAIL_STATUS_INVALID, common.VERIFICATION_CHECK_DNS),
        ("someone@ghost-corp.com", common.EMAIL_STATUS_INVALID, common.VERIFICATION_CHECK_DNS),
        ("someone@nohost-corp.com", common.EMAIL_STATUS_INVALID, common.VERIFICATION_CHECK_DNS),
        ("someone@empty-corp.com", common.EMAIL_STATUS_INVALID, common.VERIFICATION_CHECK_DNS),
        ("someone@dnsfail-corp.com", common.EMAIL_STATUS_UNKNOWN, common.VERIFICATION_CHECK_DNS),
        ("erin@nomx-corp.com", common.EMAIL_STATUS_VALID, common.VERIFICATION_CHECK_SMTP),
        ("not an address", common.EMAIL_STATUS_INVALID, common.VERIFICATION_CHECK_SYNTAX),
        ("jane@@acme-corp.com", common.EMAIL_STATUS_INVALID, common.VERIFICATION_CHECK_SYNTAX),
    ],
)
async def test_dns_and_syntax_verdicts(verifier: Stub, email: str, status: int, check: int) -> None:
    verdict = await verify(verifier, email)
    assert (verdict.status, verdict.decided_by) == (status, check), verdict.reason
    if check == common.VERIFICATION_CHECK_SYNTAX:
        assert not verdict.syntax_ok
    if status == common.EMAIL_STATUS_UNKNOWN:
        assert verdict.retry_after.ToNanoseconds() > 0


async def test_mx_on_private_addresses_is_refused_unless_allowed(
    start_verifier: VerifierFactory, farm: MailFarm
) -> None:
    strict = (await start_verifier(verifier_allow_private_mx=False)).stub
    for email in ("someone@private-corp.com", "alice@acme-corp.com"):
        verdict = await verify(strict, email)
        assert verdict.status == common.EMAIL_STATUS_INVALID
        assert "private or loopback" in verdict.reason
    assert farm.sessions() == 0


async def test_mx_on_ipv6_forms_of_loopback_is_refused_unless_allowed(
    start_verifier: VerifierFactory, farm: MailFarm
) -> None:
    strict = (await start_verifier(verifier_allow_private_mx=False)).stub
    for email in ("someone@mapped-corp.com", "someone@nat64-corp.com"):
        verdict = await verify(strict, email)
        assert verdict.status == common.EMAIL_STATUS_INVALID, verdict.reason
        assert "private or loopback" in verdict.reason
    assert farm.sessions() == 0


async def test_lists_disposable_role_and_free(verifier: Stub) -> None:
    disposable = await verify(verifier, "temp1@mailinator.com")
    assert disposable.status == common.EMAIL_STATUS_DISPOSABLE and disposable.is_disposable
    role = await verify(verifier, "info@acme-corp.com")
    assert role.status == common.EMAIL_STATUS_ROLE_BASED and role.is_role_account
    assert role.decided_by == common.VERIFICATION_CHECK_ROLE_ACCOUNT
    free = await verify(verifier, "jane.doe@gmail.com")
    assert free.status == common.EMAIL_STATUS_VALID and free.is_free_provider
    refused_role = await verify(verifier, "admin@acme-corp.com")
    assert refused_role.status == common.EMAIL_STATUS_INVALID and refused_role.is_role_account


async def test_internationalized_addresses(verifier: Stub, farm: MailFarm) -> None:
    smtputf8 = await verify(verifier, "josé@acme-corp.com")
    assert smtputf8.status == common.EMAIL_STATUS_VALID
    idn = await verify(verifier, "frank@Ünicode-Corp.com")
    assert idn.status == common.EMAIL_STATUS_VALID
    assert idn.domain == "ünicode-corp.com"
    recipients = [probe.recipient for probe in farm.behaviours["mx-known"].rcpts]  # type: ignore[union-attr]
    assert "frank@xn--nicode-corp-shb.com" in recipients


async def test_with_smtp_disabled_the_verdict_says_the_mailbox_was_not_checked(
    start_verifier: VerifierFactory, farm: MailFarm
) -> None:
    stub = (await start_verifier(verifier_smtp_enabled=False)).stub
    verdict = await verify(stub, "alice@acme-corp.com")
    assert verdict.status == common.EMAIL_STATUS_UNKNOWN
    assert not verdict.smtp_checked
    assert "not checked" in verdict.reason and "disabled" in verdict.reason
    assert (await verify(stub, "temp1@mailinator.com")).status == common.EMAIL_STATUS_DISPOSABLE
    assert (await verify(stub, "x@nullmx-corp.com")).status == common.EMAIL_STATUS_INVALID
    skipped = await verify((await start_verifier()).stub, "alice@acme-corp.com", skip_smtp=True)
    assert skipped.status == common.EMAIL_STATUS_UNKNOWN and "skipped" in skipped.reason
    assert farm.sessions() == 0


async def test_verify_answers_within_the_callers_deadline(start_verifier: VerifierFactory) -> None:
    stub = (await start_verifier(verifier_connect_timeout=30.0)).stub
    started = time.monotonic()
    verdict = await verify(stub, "someone@stall-corp.com", timeout=1.0)
    assert time.monotonic() - started < 1.0
    assert verdict.status == common.EMAIL_STATUS_UNKNOWN
    assert verdict.retry_after.ToNanoseconds() > 0


async def test_empty_email_is_an_invalid_argument(verifier: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await verifier.Verify(pb.VerifyRequest(email="  "), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_from_rpc(caught.value).reason == "EMAIL_REQUIRED"


async def test_health_follows_the_store_not_dns(start_verifier: VerifierFactory) -> None:
    dead_dns = f"127.0.0.1:{free_port()}"
    running = await start_verifier(dns_nameservers=dead_dns, verifier_dns_timeout=0.3)
    verdict = await verify(running.stub, "alice@acme-corp.com")
    assert verdict.status == common.EMAIL_STATUS_UNKNOWN
    assert verdict.decided_by == common.VERIFICATION_CHECK_DNS
    health = health_pb2_grpc.HealthStub(running.channel)
    reply = await health.Check(
        health_pb2.HealthCheckRequest(service="leadmesh.verifier.v1.VerifierService"), timeout=5
    )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
