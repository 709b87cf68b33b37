"""The Kubernetes manifests, rendered with kustomize and checked offline against the schemas and
against what operators rely on: probes, limits, hardened pods, one autoscaler per Deployment."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from libs.grpc_server import LIVENESS_SERVICE
from services.batch.settings import BatchSettings
from services.batch.worker import chunk_queue

OVERLAYS = ("dev", "prod")
CUSTOM_KINDS = {"ScaledObject", "TriggerAuthentication"}  # KEDA: no schema in kubernetes-validate
QUEUE_WORKERS = {"batch-worker"}  # Deployments that consume queues and serve nothing
GRPC_SERVICES = {"billing", "providers", "scoring", "verifier", "intent", "enrichment", "batch"}


def render(repo_root: Path, overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its built-in kustomize) is needed to render k8s/"
    out = subprocess.run(
        [kubectl, "kustomize", str(repo_root / "k8s" / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def manifests(request: pytest.FixtureRequest, repo_root: Path) -> list[dict[str, Any]]:
    return render(repo_root, request.param)


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def test_every_resource_is_valid_against_the_kubernetes_schemas(manifests: list[dict[str, Any]]) -> None:
    for doc in manifests:
        if doc["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(doc, "1.30", strict=True)


def test_deployments_are_probed_limited_and_hardened(manifests: list[dict[str, Any]]) -> None:
    deployments = of_kind(manifests, "Deployment")
    assert {
        "billing",
        "gateway",
        "providers",
        "scoring",
        "verifier",
        "intent",
        "enrichment",
        "batch",
        "batch-worker",
    } <= set(deployments)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["serviceAccountName"] == name
        for container in pod["containers"]:
            if name not in QUEUE_WORKERS:  # a worker serves no port a probe could ask
                assert container["readinessProbe"] and container["livenessProbe"], name
            else:
                assert "ports" not in container, name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
            hardened = container["securityContext"]
            assert hardened["readOnlyRootFilesystem"] is True, name
            assert hardened["allowPrivilegeEscalation"] is False, name
            assert hardened["capabilities"]["drop"] == ["ALL"], name
        drain = float(
            next(
                (
                    e["value"]
                    for c in pod["containers"]
                    for e in c.get("env", [])
                    if e["name"] == "LEADMESH_SHUTDOWN_GRACE"
                ),
                of_kind(manifests, "ConfigMap")["leadmesh-config"]["data"]["LEADMESH_SHUTDOWN_GRACE"],
            )
        )
        assert pod["terminationGracePeriodSeconds"] > drain, name


def test_grpc_services_use_native_grpc_readiness_probes_on_a_port_named_grpc(
    manifests: list[dict[str, Any]],
) -> None:
    services = of_kind(manifests, "Service")
    for name, deployment in of_kind(manifests, "Deployment").items():
        if name == "gateway" or name in QUEUE_WORKERS:
            continue
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        probe = container["readinessProbe"]["grpc"]
        assert probe["service"] == f"leadmesh.{name}.v1.{name.capitalize()}Service"
        assert [p["name"] for p in services[name]["spec"]["ports"]] == ["grpc"]


def test_grpc_services_use_native_grpc_liveness_probes_independent_of_readiness(
    manifests: list[dict[str, Any]],
) -> None:
    probed = set()
    for name, deployment in of_kind(manifests, "Deployment").items():
        if name == "gateway" or name in QUEUE_WORKERS:
            continue
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
        assert container["readinessProbe"]["grpc"]["port"] == port, name
        liveness = container["livenessProbe"]
        assert liveness["grpc"] == {"port": port, "service": LIVENESS_SERVICE}, name
        assert liveness["failureThreshold"] > 1, name  # a slow moment is not a dead process
        probed.add(name)
    assert probed == GRPC_SERVICES


def test_no_deployment_has_both_an_hpa_and_a_scaled_object(manifests: list[dict[str, Any]]) -> None:
    hpa_targets = [
        h["spec"]["scaleTargetRef"]["name"] for h in of_kind(manifests, "HorizontalPodAutoscaler").values()
    ]
    keda_targets = [s["spec"]["scaleTargetRef"]["name"] for s in of_kind(manifests, "ScaledObject").values()]
    assert not set(hpa_targets) & set(keda_targets)
    assert len(hpa_targets) == len(set(hpa_targets))


def test_the_batch_workers_scale_on_the_length_of_their_queue(manifests: list[dict[str, Any]]) -> None:
    scaled = of_kind(manifests, "ScaledObject")["batch-worker"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "batch-worker"
    assert scaled["spec"]["minReplicaCount"] >= 1  # it also consumes dead chunks and webhooks
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == chunk_queue(BatchSettings()).name
    assert trigger["metadata"]["mode"] == "QueueLength"
    auth = of_kind(manifests, "TriggerAuthentication")[trigger["authenticationRef"]["name"]]
    assert auth["spec"]["secretTargetRef"][0]["key"] == "LEADMESH_AMQP_URL"
    assert "replicas" not in of_kind(manifests, "Deployment")["batch-worker"]["spec"]


def test_the_verifier_scales_on_its_own_cpu(manifests: list[dict[str, Any]]) -> None:
    hpa = of_kind(manifests, "HorizontalPodAutoscaler")["verifier"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "verifier",
    }
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert "replicas" not in of_kind(manifests, "Deployment")["verifier"]["spec"], (
        "the HPA owns the replica count"
    )


def test_only_the_gateway_takes_outside_traffic(manifests: list[dict[str, Any]]) -> None:
    policies = of_kind(manifests, "NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    for policy in policies.values():
        for rule in policy["spec"].get("ingress", []):
            if "from" not in rule:
                assert policy["spec"]["podSelector"] == {"matchLabels": {"app": "gateway"}}
    secrets_in_config = of_kind(manifests, "ConfigMap")["leadmesh-config"]["data"]
    assert not {"LEADMESH_MONGODB_URI", "LEADMESH_AMQP_URL"} & set(secrets_in_config)


def test_prod_exposes_the_gateway_through_an_ingress(repo_root: Path) -> None:
    ingresses = of_kind(render(repo_root, "prod"), "Ingress")
    backend = ingresses["gateway"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "gateway"


GRPC_CLIENT_LABEL = {"leadmesh.io/grpc-client": "true"}
OUTSIDE_TEAMS_REACH = {"enrichment", "verifier", "scoring", "intent"}
FETCH_OUTSIDE = {"intent", "providers", "verifier", "batch-worker"}


def _selects(policy: dict[str, Any], app: str) -> bool:
    selector = policy["spec"]["podSelector"]
    if selector.get("matchLabels", {}).get("app") == app:
        return True
    return any(
        e["key"] == "app" and e["operator"] == "In" and app in e["values"]
        for e in selector.get("matchExpressions", [])
    )


def test_internal_teams_reach_four_grpc_services_from_labelled_namespaces_only(
    manifests: list[dict[str, Any]],
) -> None:
    policies = of_kind(manifests, "NetworkPolicy").values()
    reachable = set()
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if "namespaceSelector" in peer:
                    assert peer["namespaceSelector"] == {"matchLabels": GRPC_CLIENT_LABEL}
                    assert "podSelector" not in peer
                    reachable |= {app for app in GRPC_SERVICES if _selects(policy, app)}
    assert reachable == OUTSIDE_TEAMS_REACH  # billing (accounts, keys, credits) is not among them


def test_services_that_fetch_outside_are_held_by_egress_rules_with_destinations(
    manifests: list[dict[str, Any]],
) -> None:
    policies = of_kind(manifests, "NetworkPolicy").values()
    for app in FETCH_OUTSIDE:
        [policy] = [p for p in policies if "Egress" in p["spec"]["policyTypes"] and _selects(p, app)]
        for rule in policy["spec"]["egress"]:
            ports = {p["port"] for p in rule.get("ports", []) if "port" in p}
            if ports == {53}:
                continue  # DNS, wherever the cluster's resolver runs
            assert rule.get("to"), f"{app}: an egress rule without a destination: {rule}"
            for peer in rule["to"]:
                block = peer.get("ipBlock")
                if block and block["cidr"] == "0.0.0.0/0":
                    assert {"10.0.0.0/8", "169.254.0.0/16", "127.0.0.0/8"} <= set(block["except"]), app


def test_each_pod_mounts_the_verify_key_and_its_own_credential_only(manifests: list[dict[str, Any]]) -> None:
    for name, deployment in of_kind(manifests, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        [volume] = [v for v in pod["volumes"] if v["name"] == "grpc-credentials"]
        own = "batch" if name == "batch-worker" else name
        assert volume["secret"]["items"] == [
            {"key": "verify_key.pem", "path": "verify_key.pem"},
            {"key": f"{own}.token", "path": "token"},
        ], name
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        assert env["LEADMESH_GRPC_TOKEN_FILE"] == "/var/run/leadmesh/grpc/token", name
        assert env["LEADMESH_GRPC_VERIFY_KEY_FILE"] == "/var/run/leadmesh/grpc/verify_key.pem", name
