"""``leadmesh up --demo``: once the stack is up, show it working end to end."""

from __future__ import annotations

import json

import grpc
import httpx

from leadmesh.billing.v1 import billing_service_pb2 as pb
from leadmesh.billing.v1 import billing_service_pb2_grpc as pb_grpc

__all__ = ["show_demo"]


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - the CLI talks to its user


async def show_demo(gateway_url: str, billing_addr: str) -> None:
    async with grpc.aio.insecure_channel(billing_addr) as channel:
        created = await pb_grpc.BillingServiceStub(channel).CreateAccount(
            pb.CreateAccountRequest(name="Demo account", create_api_key=True), timeout=10
        )
    key = created.api_key_secret
    say(f"\ndemo: created account {created.account.account_id} with API key {key}")
    async with httpx.AsyncClient(base_url=gateway_url, timeout=10) as http:
        say(f"\n$ curl -H 'Authorization: Bearer {key}' {gateway_url}/v1/credits")
        response = await http.get("/v1/credits", headers={"Authorization": f"Bearer {key}"})
        say(f"HTTP {response.status_code}\n{json.dumps(response.json(), indent=2)}")
        say(f"\n$ curl -H 'Authorization: Bearer wrong' {gateway_url}/v1/credits")
        response = await http.get("/v1/credits", headers={"Authorization": "Bearer wrong"})
        say(f"HTTP {response.status_code}\n{json.dumps(response.json(), indent=2)}\n")
