"""The one failure of a fetched source."""

from __future__ import annotations

__all__ = ["FetchFailed"]


class FetchFailed(Exception):
    """A source could not be read. ``kind`` is stable (``refused``, ``unreachable``, ``http_error``,
    ``too_large``, ``bad_response``); ``message`` says what happened, for logs and operators."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
