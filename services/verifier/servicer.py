"""VerifierService over gRPC: proto in, domain call, proto out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from leadmesh.common.v1 import common_pb2
from leadmesh.verifier.v1 import verifier_service_pb2 as pb
from leadmesh.verifier.v1 import verifier_service_pb2_grpc as pb_grpc
from libs.errors import InvalidArgument
from services.verifier.domain import Check, EmailStatus, Verdict, VerifyOptions
from services.verifier.sandbox import SandboxVerifier
from services.verifier.verification import EmailVerifier

__all__ = ["VerifierServicer", "verdict_to_proto"]

Context = Any

_STATUS = {
    EmailStatus.VALID: common_pb2.EMAIL_STATUS_VALID,
    EmailStatus.INVALID: common_pb2.EMAIL_STATUS_INVALID,
    EmailStatus.RISKY: common_pb2.EMAIL_STATUS_RISKY,
    EmailStatus.CATCH_ALL: common_pb2.EMAIL_STATUS_CATCH_ALL,
    EmailStatus.DISPOSABLE: common_pb2.EMAIL_STATUS_DISPOSABLE,
    EmailStatus.ROLE_BASED: common_pb2.EMAIL_STATUS_ROLE_BASED,
    EmailStatus.UNKNOWN: common_pb2.EMAIL_STATUS_UNKNOWN,
}
_CHECK = {
    Check.SYNTAX: common_pb2.VERIFICATION_CHECK_SYNTAX,
    Check.DNS: common_pb2.VERIFICATION_CHECK_DNS,
    Check.DISPOSABLE: common_pb2.VERIFICATION_CHECK_DISPOSABLE,
    Check.ROLE_ACCOUNT: common_pb2.VERIFICATION_CHECK_ROLE_ACCOUNT,
    Check.SMTP: common_pb2.VERIFICATION_CHECK_SMTP,
    Check.CATCH_ALL: common_pb2.VERIFICATION_CHECK_CATCH_ALL,
    Check.CACHE: common_pb2.VERIFICATION_CHECK_CACHE,
}


def _duration(seconds: float) -> Duration:
    duration = Duration()
    duration.FromNanoseconds(round(seconds * 1e9))
    return duration


def verdict_to_proto(verdict: Verdict) -> common_pb2.EmailVerdict:
    checked_time = Timestamp()
    checked_time.FromDatetime(verdict.checked_time)
    message = common_pb2.EmailVerdict(
        email=verdict.email,
        normalized_email=verdict.normalized_email,
        status=_STATUS[verdict.status],
        syntax_ok=verdict.syntax_ok,
        domain=verdict.domain,
        mx_hosts=verdict.mx_hosts,
        is_disposable=verdict.is_disposable,
        is_role_account=verdict.is_role_account,
        is_free_provider=verdict.is_free_provider,
        is_catch_all=verdict.is_catch_all,
        mailbox_full=verdict.mailbox_full,
        smtp_code=verdict.smtp_code,
        enhanced_status_code=verdict.enhanced_status_code,
        smtp_message=verdict.smtp_message,
        decided_by=_CHECK[verdict.decided_by],
        duration=_duration(verdict.duration),
        smtp_checked=verdict.smtp_checked,
        checked_time=checked_time,
        reason=verdict.reason,
    )
    if verdict.retry_after is not None:
        message.retry_after.CopyFrom(_duration(verdict.retry_after))
    return message


def _options(options: pb.VerifyOptions) -> VerifyOptions:
    return VerifyOptions(skip_smtp=options.skip_smtp, refresh=options.refresh)


class VerifierServicer(pb_grpc.VerifierServiceServicer):
    def __init__(self, verifier: EmailVerifier, max_batch_items: int) -> None:
        self.verifier = verifier
        self.sandbox = SandboxVerifier(verifier.lists, verifier.policy.hints)
        self.max_batch_items = max_batch_items

    async def Verify(self, request: pb.VerifyRequest, context: Context) -> pb.VerifyResponse:
        if not request.email.strip():
            raise InvalidArgument("email is required", reason="EMAIL_REQUIRED")
        if request.options.sandbox:
            verdict = await self.sandbox.verify(request.email)
        else:
            verdict = await self.verifier.verify(
                request.email, _options(request.options), context.time_remaining()
            )
        return pb.VerifyResponse(verdict=verdict_to_proto(verdict))

    async def VerifyBatch(
        self, request: pb.VerifyBatchRequest, context: Context
    ) -> AsyncIterator[pb.VerifyBatchResponse]:
        if len(request.items) > self.max_batch_items:
            raise InvalidArgument(
                f"a batch holds at most {self.max_batch_items} addresses, not {len(request.items)}",
                reason="BATCH_TOO_LARGE",
                metadata={"max_items": str(self.max_batch_items)},
            )
        items = [(item.index, item.email) for item in request.items]
        results = (
            self.sandbox.verify_batch(items)
            if request.options.sandbox
            else self.verifier.verify_batch(items, _options(request.options), context.time_remaining())
        )
        async for index, verdict in results:
            yield pb.VerifyBatchResponse(index=index, verdict=verdict_to_proto(verdict))
