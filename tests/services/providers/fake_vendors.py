"""Loopback HTTP servers standing in for the data vendors, with their failure modes.

One Starlette app under uvicorn on a free port serves a person-enrichment vendor
(/v5/person/enrich), an email finder (/v2/email-finder, /v2/domain-search) and a generic JSON
API (/generic/person). Tests load its data and queue failure modes per route:

    vendors.fail("/v5/person/enrich", "429", "ok")   # next call 429 + Retry-After, then normal
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from libs.embedded_store import free_port
from tests.waiting import eventually

API_KEY = "secret-key"
ENRICH = "/v5/person/enrich"
JANE: dict[str, Any] = {
    "full_name": "jane doe",
    "first_name": "jane",
    "last_name": "doe",
    "job_title": "vp sales",
    "job_company_name": "Initech",
    "job_company_website": "initech.com",
    "job_company_size": "201-500",
    "job_company_industry": "computer software",
    "work_email": "jane.doe@initech.com",
    "mobile_phone": "+1 (415) 555-0100",
    "linkedin_url": "linkedin.com/in/jane-doe-initech",
}
WRONG_PERSON = {
    "full_name": "John Smith",
    "first_name": "John",
    "last_name": "Smith",
    "job_title": "CEO",
    "job_company_name": "Somewhere Else",
    "job_company_website": "somewhere-else.com",
    "work_email": "john@somewhere-else.com",
}


@dataclass
class FakeVendors:
    port: int = 0
    # email / profile URL / "first last|company" -> (likelihood, data)
    people: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    # (domain, first, last) lower-case -> (email, score)
    finder: dict[tuple[str, str, str], tuple[str, int]] = field(default_factory=dict)
    # domain -> domain-search data
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    # email -> generic API record
    generic: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: dict[str, list[dict[str, str]]] = field(default_factory=lambda: defaultdict(list))
    modes: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    slow_seconds: float = 2.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, path: str, *modes: str) -> None:
        """Queue how the next calls to ``path`` behave: ok, slow, 500, 429, redirect, malformed,
        partial, wrong_person. An empty queue behaves normally."""
        self.modes[path].extend(modes)

    def always(self, path: str, mode: str, times: int = 1000) -> None:
        self.modes[path].extend([mode] * times)

    def count(self, path: str) -> int:
        return len(self.calls[path])

    async def _mode(self, request: Request) -> Response | None:
        path = request.url.path
        self.calls[path].append(dict(request.query_params))
        mode = self.modes[path].popleft() if self.modes[path] else "ok"
        if mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        elif mode == "500":
            return PlainTextResponse("internal error", status_code=500)
        elif mode == "429":
            return JSONResponse({"error": "rate limited"}, status_code=429, headers={"Retry-After": "0.2"})
        elif mode == "429-long":
            return JSONResponse({"error": "rate limited"}, status_code=429, headers={"Retry-After": "3600"})
        elif mode == "redirect":  # to the same request: a client that followed it would succeed
            return Response(status_code=302, headers={"Location": str(request.url)})
        elif mode == "malformed":
            return Response(b'{"status": 200, "data": {"full_na', media_type="application/json")
        elif mode in ("partial", "wrong_person"):
            request.state.mode = mode
        return None

    async def person_enrich(self, request: Request) -> Response:
        if request.headers.get("x-api-key") != API_KEY:
            return JSONResponse({"status": 401, "error": {"type": "authentication_error"}}, status_code=401)
        failed = await self._mode(request)
        if failed is not None:
            return failed
        mode = getattr(request.state, "mode", "")
        if mode == "wrong_person":
            return JSONResponse({"status": 200, "likelihood": 9, "data": WRONG_PERSON})
        query = request.query_params
        keys = [query.get("email", ""), query.get("profile", "")]
        keys.append(
            f"{query.get('first_name', '')} {query.get('last_name', '')}|{query.get('company', '')}".lower()
        )
        for key in keys:
            if key and key in self.people:
                likelihood, data = self.people[key]
                if mode == "partial":
                    data = {k: v for k, v in data.items() if k in ("first_name", "last_name", "full_name")}
                minimum = float(query.get("min_likelihood", "0"))
                if likelihood < minimum:
                    break
                return JSONResponse({"status": 200, "likelihood": likelihood, "data": data})
        return JSONResponse({"status": 404, "error": {"type": "not_found"}}, status_code=404)

    async def email_finder(self, request: Request) -> Response:
        if request.query_params.get("api_key") != API_KEY:
            return JSONResponse({"errors": [{"id": "authentication_failed"}]}, status_code=401)
        failed = await self._mode(request)
        if failed is not None:
            return failed
        query = request.query_params
        key = (
            query.get("domain", ""),
            query.get("first_name", "").lower(),
            query.get("last_name", "").lower(),
        )
        if key not in self.finder:
            return JSONResponse({"data": {"email": None, "score": None}, "meta": {}})
        email, score = self.finder[key]
        data = {"first_name": query.get("first_name"), "last_name": query.get("last_name"), "email": email}
        return JSONResponse(
            {"data": {**data, "score": score, "domain": key[0], "position": None}, "meta": {}}
        )

    async def domain_search(self, request: Request) -> Response:
        if request.query_params.get("api_key") != API_KEY:
            return JSONResponse({"errors": [{"id": "authentication_failed"}]}, status_code=401)
        failed = await self._mode(request)
        if failed is not None:
            return failed
        domain = request.query_params.get("domain", "")
        if domain not in self.domains:
            return JSONResponse({"data": {"domain": domain, "organization": None, "emails": []}})
        return JSONResponse({"data": self.domains[domain]})

    async def generic_person(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {API_KEY}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        failed = await self._mode(request)
        if failed is not None:
            return failed
        record = self.generic.get(request.query_params.get("email", ""))
        if record is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse({"result": record})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v5/person/enrich", self.person_enrich),
                Route("/v2/email-finder", self.email_finder),
                Route("/v2/domain-search", self.domain_search),
                Route("/generic/person", self.generic_person),
            ]
        )


@asynccontextmanager
async def running_vendors() -> AsyncIterator[FakeVendors]:
    vendors = FakeVendors(port=free_port())
    config = uvicorn.Config(
        vendors.app(), host="127.0.0.1", port=vendors.port, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started)
    try:
        yield vendors
    finally:
        server.should_exit = True
        await task


def vendor_config(url: str, **overrides: Any) -> dict[str, Any]:
    """A providers configuration with the three kinds of provider on the fake vendors."""
    people = {
        "kind": "person_enrichment",
        "name": "people_vendor",
        "base_url": url,
        "api_key_env": "VENDOR_KEY",
    }
    finder = {"kind": "email_finder", "name": "finder", "base_url": url, "api_key_env": "VENDOR_KEY"}
    generic = {
        "kind": "http_json",
        "name": "generic",
        "url": url + "/generic/person?email={email}",
        "auth_env": "VENDOR_KEY",
        "auth_prefix": "Bearer ",
        "result_path": "result",
        "confidence_field": "match.score",
        "confidence_scale": 100,
        "fields": {
            "person.first_name": "name.first",
            "person.last_name": "name.last",
            "person.title": "job.title",
            "person.phone": "phones.0",
            "company.name": "job.company",
            "company.website": "job.website",
            "company.employees": "job.size",
        },
        "provides": ["person", "phone", "company"],
        "cost": 0.05,
    }
    for provider in (people, finder, generic):
        provider.update({"timeout": 1.0, "cache_ttl": 0, **overrides.get(provider["name"], {})})
    return {"providers": [people, finder, generic], "order": overrides.get("order", [])}
