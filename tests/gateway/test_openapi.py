"""The OpenAPI document and the API reference at /docs: every operation shows a request example
(when it takes a body) and a 2xx answer example, the seed's among them, each one a valid instance of
its route's models; and /docs loads every asset from the gateway itself, so it works offline."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel

from gateway.records import CsvRowAnswer, LeadAnswer
from gateway.routes.credits import Credits
from gateway.routes.enrich import CsvRowBody, LeadBody
from gateway.routes.icp import IcpProfileAnswer, IcpProfileIn, IcpProfileVersions
from gateway.routes.icp_preview import IcpPreview, IcpPreviewIn
from gateway.routes.keys import ApiKey, ApiKeys, NewApiKey, NewApiKeyIn
from gateway.routes.signals import RecordEventsBody, RecordEventsResult
from gateway.routes.usage import Usage
from tests.gateway.stack import Stack

METHODS = {"get", "put", "post", "delete", "patch"}
# The models of the operations that have them: (request body, 2xx answer).
MODELS: dict[tuple[str, str], tuple[type[BaseModel] | None, type[BaseModel]]] = {
    ("post", "/v1/enrich/lead"): (LeadBody, LeadAnswer),
    ("get", "/v1/enrichments/{enrichment_id}"): (None, LeadAnswer),
    ("post", "/v1/enrich/csv_row"): (CsvRowBody, CsvRowAnswer),
    ("get", "/v1/credits"): (None, Credits),
    ("get", "/v1/icp"): (None, IcpProfileAnswer),
    ("put", "/v1/icp"): (IcpProfileIn, IcpProfileAnswer),
    ("get", "/v1/icp/versions"): (None, IcpProfileVersions),
    ("post", "/v1/signals/events"): (RecordEventsBody, RecordEventsResult),
    ("get", "/v1/usage"): (None, Usage),
    ("get", "/v1/keys"): (None, ApiKeys),
    ("post", "/v1/keys"): (NewApiKeyIn, NewApiKey),
    ("delete", "/v1/keys/{prefix}"): (None, ApiKey),
    ("post", "/v1/icp/preview"): (IcpPreviewIn, IcpPreview),
}


def examples_of(content: dict[str, Any]) -> list[Any]:
    """The example values of the media types of a request body or a response."""
    values = []
    for media in content.values():
        if "example" in media:
            values.append(media["example"])
        values.extend(example["value"] for example in media.get("examples", {}).values())
    return values


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def answer_examples(operation: dict[str, Any]) -> list[Any]:
    return [
        value
        for status, response in operation["responses"].items()
        if status.startswith("2")
        for value in examples_of(response.get("content", {}))
    ]


async def test_every_operation_has_request_and_answer_examples(stack: Stack) -> None:
    spec = (await stack.http.get("/openapi.json")).json()
    found = operations(spec)
    assert len(found) >= 15, [f"{m} {p}" for m, p, _ in found]
    missing = []
    for method, path, operation in found:
        body = operation.get("requestBody")
        if body is not None and not examples_of(body["content"]):
            missing.append(f"{method.upper()} {path}: no request example")
        if not answer_examples(operation):
            missing.append(f"{method.upper()} {path}: no 2xx answer example")
    assert not missing, missing


async def test_the_examples_are_valid_and_the_seeds_are_among_them(stack: Stack) -> None:
    spec = (await stack.http.get("/openapi.json")).json()
    paths = spec["paths"]
    for (method, path), (body_model, answer_model) in MODELS.items():
        operation = paths[path][method]
        if body_model is not None:
            for value in examples_of(operation["requestBody"]["content"]):
                body_model.model_validate(value)
        for value in answer_examples(operation):
            answer_model.model_validate(value)

    lead = paths["/v1/enrich/lead"]["post"]
    assert {"email": "jane@acme.com"} in examples_of(lead["requestBody"]["content"])
    seed = next(a for a in answer_examples(lead) if a["id"] == "ev_l4m8np2")["lead"]
    assert seed["intent_signals"] == ["hiring_sales_ops", "evaluated_competitor"]
    assert seed["icp_score"] == 87 and seed["company_revenue"] == "$10M-$25M"
    not_found = next(a for a in answer_examples(lead) if a["status"] == "not_found")
    assert not_found["lead"]["email"] is None, "an example keeps its nulls"
    row = paths["/v1/enrich/csv_row"]["post"]
    assert {"email": "jane@acme.com"} in examples_of(row["requestBody"]["content"])
    seed_row = next(a for a in answer_examples(row) if a["id"] == "ev_b8v2mn6")
    assert seed_row["csv_row"]["row_id"] == 1 and seed_row["csv_row"]["enriched_seniority"] == "c_level"
    assert seed_row["meta"]["total_rows"] == 500


async def test_the_demo_label_is_documented(stack: Stack) -> None:
    spec = (await stack.http.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    for meta in ("Meta", "CsvRowMeta"):
        demo = schemas[meta]["properties"]["demo"]
        assert demo["type"] == "boolean" and "LEADMESH_DEMO" in demo["description"]
        assert "demo" in schemas[meta]["required"]
    health = spec["paths"]["/healthz"]["get"]["responses"]["200"]
    assert "LEADMESH_DEMO" in health["description"] and answer_examples({"responses": {"200": health}})


async def test_docs_load_every_asset_from_the_gateway_itself(stack: Stack) -> None:
    """No CDN: every script, style sheet and icon of /docs (and what the styles import) comes
    from the gateway, so the reference works on a machine without internet."""
    page = await stack.http.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    html = page.text
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.I), "no other host"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets), assets
    spec_url = re.search(r"url: '([^']+)'", html)
    assert spec_url is not None and spec_url.group(1) == "/openapi.json"
    fetched = []
    while assets:
        url = assets.pop()
        assert not urlsplit(url).netloc, url
        response = await stack.http.get(url)
        assert response.status_code == 200 and response.content, url
        fetched.append(url)
        if url.endswith(".css"):
            for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)", response.text):
                if not ref.startswith("data:"):
                    assets.append(urljoin(url, ref))
    assert "SwaggerUIBundle" in (await stack.http.get(next(u for u in fetched if u.endswith(".js")))).text
    assert (await stack.http.get("/redoc")).status_code == 404, "no ReDoc page to load from a CDN"
