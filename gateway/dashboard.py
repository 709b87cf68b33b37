"""The dashboard: its built static files at ``/app/``, with a strict Content-Security-Policy.

The gateway only serves the files ``dashboard/`` builds (``npm run build`` -> ``dashboard/dist``);
the app speaks to the public ``/v1`` API like any client. When the files are missing, ``/app/``
answers 503 saying how to build them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "DEFAULT_DASHBOARD_DIR", "mount_dashboard"]

DEFAULT_DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboard" / "dist"
PATH = "/app"
# No inline script or style, nothing from elsewhere, never framed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class _SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def mount_dashboard(app: FastAPI, directory: Path | None) -> None:
    directory = directory or DEFAULT_DASHBOARD_DIR

    @app.get(PATH, include_in_schema=False)
    async def to_app() -> RedirectResponse:
        return RedirectResponse(f"{PATH}/", status_code=308)

    if (directory / "index.html").is_file():
        app.mount(PATH, _SecurityHeaders(StaticFiles(directory=directory, html=True)), name="dashboard")
        return

    @app.get(PATH + "/{path:path}", include_in_schema=False)
    async def not_built(path: str) -> PlainTextResponse:
        message = f"the dashboard is not built ({directory} has no index.html): run `make dashboard`"
        return PlainTextResponse(message, status_code=503)
