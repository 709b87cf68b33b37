"""The OpenAPI document: FastAPI's, with the nulls of the response examples put back.

FastAPI leaves every null out of the document it generates, examples included: an answer's
example would then lack the fields the API promises to be present (and null when unknown).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

__all__ = ["keep_example_nulls"]


def keep_example_nulls(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """``app``'s document keeps the examples of the responses of ``routers`` (included as they are)."""
    generate = app.openapi
    routes = [
        r for router in routers for r in router.routes if isinstance(r, APIRoute) and r.include_in_schema
    ]

    def openapi() -> dict[str, Any]:
        spec = generate()
        for route in routes:
            for method in route.methods or ():
                responses = spec["paths"][route.path_format][method.lower()]["responses"]
                for status, given in route.responses.items():
                    for media, content in given.get("content", {}).items():
                        responses[str(status)]["content"][media].update(content)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
