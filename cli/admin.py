"""Admin commands: accounts, API keys and credits, through the billing service of the stack."""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any

import grpc

from cli.mesh_credentials import cli_credential
from cli.state import home_dir, mesh_addresses
from leadmesh.billing.v1 import billing_service_pb2 as pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc
from libs.channels import open_channel
from libs.errors import error_from_rpc

__all__ = ["run_admin"]

TIMEOUT = 10.0


def emit(args: argparse.Namespace, payload: dict[str, Any], text: str) -> None:
    print(json.dumps(payload) if args.json else text, flush=True)  # noqa: T201 - the CLI's output


async def _accounts_create(stub: pb_grpc.BillingServiceStub, args: argparse.Namespace) -> None:
    response = await stub.CreateAccount(
        pb.CreateAccountRequest(name=args.name, initial_credits=args.credits, create_api_key=True),
        timeout=TIMEOUT,
    )
    account = response.account
    emit(
        args,
        {"account_id": account.account_id, "api_key": response.api_key_secret, "balance": account.balance},
        f"account {account.account_id} ({account.name}), balance {account.balance}\n"
        f"API key (shown once, store it now): {response.api_key_secret}",
    )


async def _keys_create(stub: pb_grpc.BillingServiceStub, args: argparse.Namespace) -> None:
    mode = pb.API_KEY_MODE_TEST if args.test else pb.API_KEY_MODE_LIVE
    response = await stub.CreateApiKey(
        pb.CreateApiKeyRequest(account_id=args.account, mode=mode, name=args.name), timeout=TIMEOUT
    )
    emit(
        args,
        {"account_id": args.account, "api_key": response.api_key_secret, "prefix": response.api_key.prefix},
        f"API key (shown once, store it now): {response.api_key_secret}",
    )


async def _keys_revoke(stub: pb_grpc.BillingServiceStub, args: argparse.Namespace) -> None:
    response = await stub.RevokeApiKey(
        pb.RevokeApiKeyRequest(prefix=args.prefix, account_id=args.account), timeout=TIMEOUT
    )
    key = response.api_key
    emit(
        args,
        {"prefix": key.prefix, "account_id": key.account_id, "revoked": True},
        f"revoked {key.prefix} of account {key.account_id}",
    )


async def _keys_list(stub: pb_grpc.BillingServiceStub, args: argparse.Namespace) -> None:
    keys, token = [], ""
    while True:
        page = await stub.ListApiKeys(
            pb.ListApiKeysRequest(account_id=args.account, page_size=100, page_token=token), timeout=TIMEOUT
        )
        keys += list(page.api_keys)
        token = page.next_page_token
        if not token:
            break
    rows = [
        {
            "prefix": k.prefix,
            "name": k.name,
            "state": pb.ApiKey.State.Name(k.state).removeprefix("STATE_").lower(),
        }
        for k in keys
    ]
    emit(args, {"api_keys": rows}, "\n".join(f"{r['prefix']}  {r['state']:8}  {r['name']}" for r in rows))


async def _credits_add(stub: pb_grpc.BillingServiceStub, args: argparse.Namespace) -> None:
    response = await stub.AddCredits(
        pb.AddCreditsRequest(
            account_id=args.account,
            idempotency_key=args.idempotency_key or f"admin:{uuid.uuid4().hex}",
            amount=args.amount,
            description=args.description,
        ),
        timeout=TIMEOUT,
    )
    emit(
        args,
        {"account_id": args.account, "balance": response.balance, "replayed": response.replayed},
        f"balance of {args.account}: {response.balance}",
    )


COMMANDS = {
    ("accounts", "create"): _accounts_create,
    ("keys", "create"): _keys_create,
    ("keys", "revoke"): _keys_revoke,
    ("keys", "list"): _keys_list,
    ("credits", "add"): _credits_add,
}


async def run_admin(args: argparse.Namespace) -> int:
    address = mesh_addresses(home_dir()).billing_addr
    command = COMMANDS[(args.command, args.action)]
    async with open_channel(address, cli_credential(home_dir()), None) as channel:
        try:
            await command(pb_grpc.BillingServiceStub(channel), args)
        except grpc.aio.AioRpcError as exc:
            error = error_from_rpc(exc)
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                message = (
                    f"billing is not reachable at {address}; is `leadmesh up` running from this directory?"
                )
            else:
                message = error.message
            if args.json:
                emit(args, {"error": {"code": error.reason, "message": message}}, "")
            else:
                print(f"error: {message} ({error.reason})", flush=True)  # noqa: T201
            return 1
    return 0
