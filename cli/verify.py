"""``leadmesh verify ADDRESS... [--json]``: asks the running verifier, prints one result per address
in the order given (each as soon as it and those before it are in)."""

from __future__ import annotations

import argparse
import json
from typing import Any

import grpc

from cli.mesh_credentials import cli_credential
from cli.state import home_dir, mesh_addresses
from leadmesh.common.v1 import common_pb2
from leadmesh.verifier.v1 import verifier_service_pb2 as pb
from leadmesh.verifier.v1 import verifier_service_pb2_grpc as pb_grpc
from libs.channels import open_channel
from libs.errors import error_from_rpc
from libs.vocabulary import EMAIL_STATUS_NAMES

__all__ = ["run_verify", "status_name", "verdict_json"]


def _say(text: str) -> None:
    print(text, flush=True)  # noqa: T201 - the CLI's output


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


def status_name(value: int) -> str:
    """``EMAIL_STATUS_CATCH_ALL`` -> ``catch-all`` (the API's spelling)."""
    return EMAIL_STATUS_NAMES.get(value, "unspecified")


def verdict_json(verdict: common_pb2.EmailVerdict) -> dict[str, Any]:
    return {
        "email": verdict.email,
        "status": status_name(verdict.status),
        "normalized_email": verdict.normalized_email,
        "domain": verdict.domain,
        "syntax_ok": verdict.syntax_ok,
        "mx_hosts": list(verdict.mx_hosts),
        "is_disposable": verdict.is_disposable,
        "is_role_account": verdict.is_role_account,
        "is_free_provider": verdict.is_free_provider,
        "is_catch_all": verdict.is_catch_all,
        "mailbox_full": verdict.mailbox_full,
        "smtp_checked": verdict.smtp_checked,
        "smtp_code": verdict.smtp_code,
        "enhanced_status_code": verdict.enhanced_status_code,
        "smtp_message": verdict.smtp_message,
        "decided_by": _enum_name(common_pb2.VerificationCheck, verdict.decided_by, "VERIFICATION_CHECK_"),
        "reason": verdict.reason,
        "duration_ms": round(verdict.duration.ToNanoseconds() / 1e6, 1),
        "retry_after_seconds": verdict.retry_after.seconds if verdict.HasField("retry_after") else None,
        "checked_time": verdict.checked_time.ToJsonString() if verdict.HasField("checked_time") else None,
    }


def _text(verdict: common_pb2.EmailVerdict) -> str:
    flags = [
        name
        for name, on in (
            ("disposable", verdict.is_disposable),
            ("role", verdict.is_role_account),
            ("free", verdict.is_free_provider),
            ("catch-all", verdict.is_catch_all),
            ("full", verdict.mailbox_full),
        )
        if on
    ]
    line = f"{verdict.email}  {status_name(verdict.status)}  {verdict.reason}"
    if verdict.smtp_code:
        line += f"  [{verdict.smtp_code} {verdict.enhanced_status_code}]".replace(" ]", "]")
    if flags:
        line += f"  ({', '.join(flags)})"
    return line


async def run_verify(args: argparse.Namespace) -> int:
    address = mesh_addresses(home_dir()).verifier_addr
    request = pb.VerifyBatchRequest(
        items=[pb.VerifyBatchItem(index=n, email=email) for n, email in enumerate(args.addresses)],
        options=pb.VerifyOptions(skip_smtp=args.skip_smtp, refresh=args.refresh),
    )
    waiting: dict[int, common_pb2.EmailVerdict] = {}
    next_index = 0
    async with open_channel(address, cli_credential(home_dir()), None) as channel:
        stub = pb_grpc.VerifierServiceStub(channel)
        try:
            async for result in stub.VerifyBatch(request, timeout=args.timeout):
                waiting[result.index] = result.verdict
                while next_index in waiting:
                    verdict = waiting.pop(next_index)
                    _say(
                        json.dumps(verdict_json(verdict), ensure_ascii=False) if args.json else _text(verdict)
                    )
                    next_index += 1
        except grpc.aio.AioRpcError as exc:
            error = error_from_rpc(exc)
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                message = f"the verifier is not reachable at {address}; is `leadmesh up` running here?"
            else:
                message = error.message
            if args.json:
                _say(json.dumps({"error": {"code": error.reason, "message": message}}))
            else:
                _say(f"error: {message} ({error.reason})")
            return 1
    return 0
