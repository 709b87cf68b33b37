"""An internal team's credential, as an operator issues it with `leadmesh clients` against a stack
run by `leadmesh up`, and as the team's program calls the gRPC ports with it."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import time
from pathlib import Path

import grpc

from leadmesh.billing.v1 import billing_service_pb2 as billing_pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as billing_grpc
from leadmesh.verifier.v1 import verifier_service_pb2 as verifier_pb
from leadmesh.verifier.v1 import verifier_service_pb2_grpc as verifier_grpc
from libs.errors import error_from_rpc
from tests import grpc_callers
from tests.cli.test_up import LEADMESH, Stack, admin, running_stack, stack_env  # noqa: F401 - fixtures


def _verify(address: str, token: str | None) -> str:
    """The verdict of a malformed address (no network needed), or the reason the call failed."""

    async def call() -> str:
        async with grpc_callers.channel(address, token) as channel:
            try:
                answer = await verifier_grpc.VerifierServiceStub(channel).Verify(
                    verifier_pb.VerifyRequest(
                        email="not an address", options=verifier_pb.VerifyOptions(skip_smtp=True)
                    ),
                    timeout=10,
                )
            except grpc.aio.AioRpcError as exc:
                return error_from_rpc(exc).reason
            return "answered" if answer.verdict.email else "empty"

    return asyncio.run(call())


def _balance(address: str, token: str) -> str:
    async def call() -> str:
        async with grpc_callers.channel(address, token) as channel:
            try:
                await billing_grpc.BillingServiceStub(channel).GetBalance(
                    billing_pb.GetBalanceRequest(account_id="acct_x"), timeout=10
                )
            except grpc.aio.AioRpcError as exc:
                return error_from_rpc(exc).reason
            return "answered"

    return asyncio.run(call())


def test_an_operator_issues_lists_and_revokes_a_team_credential(
    running_stack: Stack,  # noqa: F811
    stack_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    home = Path(stack_env["LEADMESH_HOME"])
    assert stat.S_IMODE((home / "grpc" / "signing_key.pem").stat().st_mode) == 0o600
    verifier, billing = stack_env["LEADMESH_VERIFIER_ADDR"], stack_env["LEADMESH_BILLING_ADDR"]
    env = {k: v for k, v in stack_env.items() if not k.endswith("_ADDR")}

    unknown = subprocess.run(
        [*LEADMESH, "clients", "create", "--name", "x", "--scopes", "verify,everything", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert unknown.returncode == 1
    assert '"SCOPE_UNKNOWN"' in unknown.stdout and "everything" in unknown.stdout

    created = admin(env, tmp_path, "clients", "create", "--name", "growth team", "--scopes", "verify,score")
    client_id, token = str(created["client_id"]), str(created["token"])
    assert client_id.startswith("cl_growth-team_")

    assert _verify(verifier, token) == "answered"
    assert _verify(verifier, None) == "CREDENTIAL_MISSING"
    assert _balance(billing, token) == "SCOPE_MISSING"  # no billing scope was given

    bound = admin(
        env, tmp_path, "clients", "create", "--name", "crm sync", "--scopes", "verify", "--account", "acct_1"
    )
    assert bound["account_id"] == "acct_1"
    assert _verify(verifier, str(bound["token"])) == "ACCOUNT_UNCHECKED"  # Verify names no account

    listed = admin(env, tmp_path, "clients", "list")["clients"]
    rows = {(c["client_id"], tuple(c["scopes"]), c["revoked"], c["account_id"]) for c in listed}  # type: ignore[index, union-attr]
    assert rows == {
        (client_id, ("score", "verify"), False, None),
        (bound["client_id"], ("verify",), False, "acct_1"),
    }

    revoked = admin(env, tmp_path, "clients", "revoke", client_id)
    assert revoked["revoked"] is True
    deadline = time.monotonic() + 10
    while (outcome := _verify(verifier, token)) != "CREDENTIAL_REVOKED":
        assert time.monotonic() < deadline, f"a revoked credential still works: {outcome}"
        time.sleep(0.2)
