"""The image and the compose file, checked statically (no container engine runs here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml


def test_the_image_is_multi_stage_slim_debian_and_runs_as_a_non_root_user(repo_root: Path) -> None:
    dockerfile = (repo_root / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.M)
    assert len(bases) >= 2, "multi-stage"
    assert all(re.match(r"python:3\.1[1-9]-slim-(bookworm|trixie)$", base) for base in bases), bases
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.M)
    assert users and not users[-1].startswith(("root", "0")), users
    for path in re.findall(r"^COPY\s+(?!--from)(\S+)", dockerfile, flags=re.M):
        assert (repo_root / path).exists(), f"COPY {path}: not in the repo"


def test_the_build_context_leaves_out_local_state(repo_root: Path) -> None:
    ignored = set((repo_root / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".leadmesh"} <= ignored


def test_compose_runs_the_mesh_on_real_mongodb_and_rabbitmq(repo_root: Path) -> None:
    compose = yaml.safe_load((repo_root / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["mongo"]["image"].startswith("mongo:")
    assert services["rabbitmq"]["image"].startswith("rabbitmq:")
    for name in ("billing", "gateway"):
        assert services[name]["build"] == "."
        assert services[name]["environment"]["LEADMESH_MONGODB_URI"] == "mongodb://mongo:27017"
    assert services["billing"]["command"] == ["python", "-m", "services.billing"]
