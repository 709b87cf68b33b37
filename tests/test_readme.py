"""The README is the manual: every setting a user may set is in its Configuration section, with
its default, and every route of the gateway is in its endpoint table (and nothing else is)."""

from __future__ import annotations

import ast
import importlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from gateway.app import create_app
from gateway.records import record_json
from gateway.settings import GatewaySettings
from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
# Where our processes and their settings live (tests and generated code aside).
PACKAGES = ("libs", "gateway", "services", "cli")

# Settings the README leaves out on purpose: knobs of the implementation no user needs to turn.
# Keep this list short; a setting someone may have to change belongs in Configuration.
INTERNAL_SETTINGS = {
    # How the providers service queries the embedded store (its $in scans a collection).
    "LEADMESH_PROVIDERS_DIRECTORY_POINT_QUERIES",
    # Leads scored between two yields to the event loop inside one ScoreBatch call.
    "LEADMESH_SCORING_BATCH_SLICE",
    # How enrichment splits its caller's deadline between its stages.
    "LEADMESH_ENRICHMENT_RESERVE_SECONDS",
    "LEADMESH_ENRICHMENT_BATCH_SECONDS_PER_LEAD",
}


def _section(title: str) -> str:
    """The README's ``## title`` section, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.MULTILINE | re.DOTALL)
    assert match, f"the README has no '## {title}' section"
    return match.group(1)


def _imports_settings(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "pydantic_settings" or node.module.endswith(".settings"):
                return True
        elif isinstance(node, ast.Import) and any(a.name == "pydantic_settings" for a in node.names):
            return True
    return False


def settings_classes() -> list[type[BaseSettings]]:
    """Every pydantic-settings class our code defines: each module that imports pydantic-settings
    or a settings module and defines a class is imported, and its BaseSettings subclasses kept."""
    found: list[type[BaseSettings]] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name == "__main__.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if not _imports_settings(tree) or not any(isinstance(n, ast.ClassDef) for n in tree.body):
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for value in vars(importlib.import_module(module)).values():
                if isinstance(value, type) and issubclass(value, BaseSettings) and value.__module__ == module:
                    found.append(value)
    return found


def env_names(cls: type[BaseSettings], name: str, field: FieldInfo) -> list[str]:
    """The environment variables a field is read from."""
    alias = field.validation_alias
    if isinstance(alias, str):
        return [alias.upper()]
    if isinstance(alias, AliasChoices):
        return [choice.upper() for choice in alias.choices if isinstance(choice, str)]
    return [(str(cls.model_config.get("env_prefix", "")) + (field.alias or name)).upper()]


def settings() -> Iterator[tuple[str, FieldInfo]]:
    """(environment name, field) of every setting, each once."""
    seen: set[str] = set()
    for cls in settings_classes():
        for name, field in cls.model_fields.items():
            for env in env_names(cls, name, field):
                if env not in seen:
                    seen.add(env)
                    yield env, field


def test_the_walk_finds_every_process_settings() -> None:
    names = {cls.__name__ for cls in settings_classes()}
    expected = {
        "MeshAddresses",
        "CommonSettings",
        "GatewaySettings",
        "BatchSettings",
        "BillingSettings",
        "EnrichmentSettings",
        "IntentSettings",
        "ProvidersSettings",
        "ScoringSettings",
        "VerifierSettings",
    }
    assert expected <= names, expected - names


def _rows(section: str) -> dict[str, list[str]]:
    """Table rows of a section by each setting name in their first cell: the row's other cells."""
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]):
            rows.setdefault(name, cells[1:])
    return rows


def test_every_setting_is_in_configuration() -> None:
    rows = _rows(_section("Configuration"))
    missing = sorted(env for env, _ in settings() if env not in rows and env not in INTERNAL_SETTINGS)
    assert not missing, f"settings missing from the README's Configuration tables: {missing}"
    documented_internals = sorted(INTERNAL_SETTINGS & set(rows))
    assert not documented_internals, f"documented, so not internal: {documented_internals}"
    known = {env for env, _ in settings()}
    assert INTERNAL_SETTINGS <= known, f"no such settings: {sorted(INTERNAL_SETTINGS - known)}"


def _literals(default: object) -> list[str]:
    """How a plain default may be written in the README (None when it has no one spelling)."""
    if isinstance(default, bool):
        return [str(default).lower()]
    if isinstance(default, int):
        return [str(default)]
    if isinstance(default, float):
        return [str(int(default)), str(default)] if default.is_integer() else [str(default)]
    if isinstance(default, str | Path) and str(default):
        return [str(default)]
    return []


def test_each_setting_row_gives_its_default() -> None:
    rows = _rows(_section("Configuration"))
    wrong = []
    for env, field in settings():
        if env not in rows or field.default_factory is not None or isinstance(field.default, SecretStr):
            continue
        literals = _literals(field.default)
        cell = rows[env][0].replace(",", "") if rows[env] else ""
        if literals and not any(
            re.search(rf"(?<![\w.]){re.escape(literal)}(?![\w]|\.\d)", cell) for literal in literals
        ):
            wrong.append(f"{env}: default {field.default!r}, README says {cell!r}")
    assert not wrong, "\n".join(wrong)


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ROUTE = re.compile(rf"\b({'|'.join(METHODS)}) (/[^\s`?,]*)")


def _shape(path: str) -> str:
    """``/v1/jobs/{job_id}`` and ``/v1/jobs/{id}`` alike."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def endpoint_table() -> str:
    lines = README.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("| endpoint |")), None)
    assert start is not None, "the README has no endpoint table (a table headed '| endpoint |')"
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append(line.split("|")[1])  # the endpoint cell
    return "\n".join(table)


def test_every_route_is_in_the_endpoint_table() -> None:
    app = create_app(GatewaySettings())
    # The routes of the API (its OpenAPI document), and the reference pages FastAPI serves; its
    # other helpers (the Swagger UI OAuth redirect, static assets) are not endpoints a user calls.
    routes = {
        (method.upper(), _shape(path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method.upper() in METHODS
    }
    served = {getattr(route, "path", "") for route in app.routes}
    routes |= {("GET", path) for path in ("/docs", "/redoc", app.openapi_url) if path in served}
    assert len(routes) > 10, routes
    documented = {(method, _shape(path)) for method, path in ROUTE.findall(endpoint_table())}
    assert not routes - documented, f"missing from the endpoint table: {sorted(routes - documented)}"
    assert not documented - routes, f"in the endpoint table, not in the API: {sorted(documented - routes)}"


def test_the_example_answer_shows_every_field_of_a_lead() -> None:
    """The README's first /v1/enrich/lead answer is the field reference: every key the API sends
    in ``lead`` and ``meta`` is in it."""
    section = _section("The API")
    block = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert block, "the API section has no JSON example"
    example = json.loads(block.group(1))
    answer = record_json(pb.EnrichmentRecord(state=pb.EnrichmentRecord.STATE_COMPLETED), demo=False)
    assert set(answer) - {"contacts"} <= set(example), set(answer) - set(example)
    assert set(answer["lead"]) <= set(example["lead"]), set(answer["lead"]) - set(example["lead"])
    assert set(answer["meta"]) <= set(example["meta"]), set(answer["meta"]) - set(example["meta"])
