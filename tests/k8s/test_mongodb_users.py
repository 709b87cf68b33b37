"""The per-service MongoDB users of k8s/README.md match the code: each service's row lists exactly
the collections its code opens (so a user made from it can do the service's work and no more), no
collection has two owners, and intent's user reaches neither API keys nor the ledger; the
compose file and the manifests never carry a webhook master secret of their own."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.k8s.test_manifests import render

# A collection opened by name (db["name"]) or named by a module constant used to open one.
OPENED = re.compile(r"""db\[\s*"([a-z_]+)"\s*\]|^[A-Z_]+\s*=\s*"([a-z]+_[a-z_]+)"\s*$""", re.MULTILINE)
SERVICES = ("billing", "providers", "verifier", "scoring", "intent", "enrichment", "batch")


def opened_by(repo_root: Path, service: str) -> set[str]:
    found: set[str] = set()
    for path in (repo_root / "services" / service).rglob("*.py"):
        for by_name, constant in OPENED.findall(path.read_text(encoding="utf-8")):
            name = by_name or constant
            if name.startswith(f"{service}_"):  # constants that are not collections are skipped
                found.add(name)
    return found


def documented(repo_root: Path) -> dict[str, set[str]]:
    """The table of k8s/README.md: each service of a row's first cell -> its collections."""
    text = (repo_root / "k8s" / "README.md").read_text(encoding="utf-8")
    table: dict[str, set[str]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`leadmesh-"):
            continue
        collections = set(re.findall(r"`([a-z_]+)`", cells[2]))
        for service in re.findall(r"[a-z-]+", cells[0]):
            table[service] = collections
    return table


def test_each_service_user_gets_exactly_the_collections_its_code_opens(repo_root: Path) -> None:
    table = documented(repo_root)
    for service in SERVICES:
        assert table.get(service) == opened_by(repo_root, service), service
    assert table["batch-worker"] == table["batch"]
    owners = [collection for collections in (table[s] for s in SERVICES) for collection in collections]
    assert len(owners) == len(set(owners)), "a collection with two owners"
    assert not {"billing_api_keys", "billing_ledger"} & table["intent"]
    # The mongosh script of the page creates the same users.
    script = (repo_root / "k8s" / "README.md").read_text(encoding="utf-8").split("```js")[1]
    for service in SERVICES:
        line = re.search(rf"^\s*{service}: \[(.*?)\],$", script, re.MULTILINE | re.DOTALL)
        assert line, service
        assert set(re.findall(r'"([a-z_]+)"', line.group(1))) == table[service], service


def test_no_deployment_file_carries_a_webhook_master_secret(repo_root: Path) -> None:
    compose_text = (repo_root / "docker-compose.yml").read_text()
    assert "dev-only-webhook-secret" not in compose_text
    compose = yaml.safe_load(compose_text)["services"]
    for name in ("batch", "batch-worker"):
        assert compose[name]["environment"]["LEADMESH_WEBHOOK_SECRET"].startswith(
            "${LEADMESH_WEBHOOK_SECRET:?"
        )
    for overlay in ("dev", "prod"):
        docs = render(repo_root, overlay)
        assert not any(
            "LEADMESH_WEBHOOK_SECRET" in (doc.get("data") or {}) for doc in docs if doc["kind"] == "ConfigMap"
        )
        deployments = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Deployment"}
        for name in ("batch", "batch-worker"):
            env = deployments[name]["spec"]["template"]["spec"]["containers"][0]["env"]
            (entry,) = [item for item in env if item["name"] == "LEADMESH_WEBHOOK_SECRET"]
            assert "value" not in entry
            assert entry["valueFrom"]["secretKeyRef"]["name"] == "leadmesh-webhook-secret"
