"""``leadmesh privacy erase``: removes people from every service of the running mesh.

Each service that keeps people serves ``leadmesh.privacy.v1.PrivacyService`` and erases them from
its own collections. Providers goes first: it suppresses them for good (keyed hashes), so that no
import, vendor answer or cache brings them back, and opens the erasure's audit entry; then
enrichment, verifier, intent and batch; then the audit entry gets every service's counts. Every
step is idempotent: an erasure cut short (a service down, a crash) is finished by running the same
command again, and running it once more erases nothing.
"""

from __future__ import annotations

import argparse
import getpass
import json
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import grpc

from cli.mesh_credentials import cli_credential
from cli.state import home_dir, mesh_addresses
from leadmesh.privacy.v1 import privacy_service_pb2 as pb
from leadmesh.privacy.v1 import privacy_service_pb2_grpc as pb_grpc
from leadmesh.providers.v1 import providers_service_pb2 as providers_pb
from leadmesh.providers.v1 import providers_service_pb2_grpc as providers_grpc
from libs.channels import open_channel
from libs.errors import LeadmeshError, error_from_rpc
from libs.ids import new_id
from libs.privacy import DataSubject, subject

__all__ = ["ERASING_SERVICES", "add_privacy_parser", "run_privacy"]

# In order: providers first (it suppresses the people before anything is erased).
ERASING_SERVICES = ("providers", "enrichment", "verifier", "intent", "batch")
# Seconds one service may take (it scans the collections it keeps people in).
ERASE_TIMEOUT = 900.0
SUBJECTS_PER_CALL = 500


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - the CLI talks to its user


def add_privacy_parser(commands: Any) -> None:
    privacy = commands.add_parser("privacy", help="erase people (GDPR, CCPA)").add_subparsers(
        dest="action", required=True
    )
    erase = privacy.add_parser("erase", help="remove people from every service and suppress them for good")
    erase.add_argument("--email", action="append", default=[], metavar="ADDRESS")
    erase.add_argument("--linkedin-url", action="append", default=[], metavar="URL")
    erase.add_argument("--file", type=Path, help="one address or LinkedIn URL per line (# starts a comment)")
    erase.add_argument("--operator", default="", help="who asks, for the audit (default: user@host)")
    erase.add_argument("--json", action="store_true")


def people_from(emails: Iterable[str], urls: Iterable[str], file: Path | None) -> list[DataSubject]:
    """The people named, normalised and each once; ValueError names the first that is not one."""
    given = [(e, "") for e in emails] + [("", u) for u in urls]
    if file is not None:
        for line in file.read_text(encoding="utf-8-sig").splitlines():
            value = line.split("#", 1)[0].strip()
            if value:
                given.append(("", value) if "linkedin.com" in value.lower() else (value, ""))
    if not given:
        raise ValueError("name someone: --email, --linkedin-url or --file")
    people: list[DataSubject] = []
    for email, url in given:
        try:
            people.append(subject(email, url))
        except LeadmeshError as error:
            raise ValueError(error.message) from None
    return list(dict.fromkeys(people))


async def _erase_at(
    address: str, erasure_id: str, operator: str, people: list[DataSubject]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with open_channel(address, cli_credential(home_dir()), None) as channel:
        stub = pb_grpc.PrivacyServiceStub(channel)
        for start in range(0, len(people), SUBJECTS_PER_CALL):
            part = people[start : start + SUBJECTS_PER_CALL]
            answer = await stub.ErasePersonalData(
                pb.ErasePersonalDataRequest(
                    erasure_id=erasure_id,
                    operator=operator,
                    subjects=[pb.DataSubject(email=p.email, linkedin_url=p.linkedin_url) for p in part],
                ),
                timeout=ERASE_TIMEOUT,
            )
            for erased in answer.erased:
                counts[erased.collection] = counts.get(erased.collection, 0) + erased.items
    return counts


async def erase(people: list[DataSubject], operator: str) -> dict[str, Any]:
    """Erases ``people`` everywhere; the erasure's id, counts per service, and failures."""
    addresses = mesh_addresses(home_dir())
    erasure_id = new_id("er")
    erased: dict[str, dict[str, int]] = {}
    failed: dict[str, str] = {}
    for service in ERASING_SERVICES:
        address = addresses.of(service)
        try:
            erased[service] = await _erase_at(address, erasure_id, operator, people)
        except grpc.aio.AioRpcError as exc:
            failed[service] = (
                f"not reachable at {address}"
                if exc.code() == grpc.StatusCode.UNAVAILABLE
                else error_from_rpc(exc).message
            )
            if service == "providers":
                break  # nothing is erased before the people are suppressed
    complete = not failed
    if "providers" not in failed:
        async with open_channel(addresses.providers_addr, cli_credential(home_dir()), None) as channel:
            await providers_grpc.ProvidersServiceStub(channel).RecordErasure(
                providers_pb.RecordErasureRequest(
                    erasure_id=erasure_id,
                    operator=operator,
                    complete=complete,
                    erased=[
                        providers_pb.ErasedCount(service=service, collection=collection, items=items)
                        for service, counts in erased.items()
                        for collection, items in counts.items()
                    ],
                ),
                timeout=30,
            )
    return {
        "erasure_id": erasure_id,
        "people": len(people),
        "complete": complete,
        "erased": erased,
        "failed": failed,
    }


def _print(report: dict[str, Any]) -> None:
    total = sum(sum(counts.values()) for counts in report["erased"].values())
    say(f"erasure {report['erasure_id']}: {report['people']} people, {total} items erased")
    for service, counts in report["erased"].items():
        for collection, items in counts.items():
            say(f"  {service:<11} {collection:<28} {items}")
    for service, why in report["failed"].items():
        say(f"  {service:<11} FAILED: {why}")
    if not report["complete"]:
        say("the erasure is incomplete: run the same command again to finish it")


async def run_privacy(args: argparse.Namespace) -> int:
    try:
        people = people_from(args.email, args.linkedin_url, args.file)
    except (ValueError, OSError) as error:
        message = str(error)
        say(json.dumps({"error": {"message": message}}) if args.json else f"error: {message}")
        return 2
    operator = args.operator or f"{getpass.getuser()}@{socket.gethostname()}"
    report = await erase(people, operator)
    if args.json:
        say(json.dumps(report))
    else:
        _print(report)
    return 0 if report["complete"] else 1
