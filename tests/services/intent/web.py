"""The loopback web server standing in for job-board APIs and company websites (the demo world's,
:mod:`services.demo_world.web`), as the intent tests use it.

It listens on 127.0.0.2 (the address the tests' outbound policy allows, like a public site) and,
on the same port, on 127.0.0.1 (which the policy refuses): a request that reached the loopback copy
would succeed, so a refused redirect proves the guard stopped it.
"""

from __future__ import annotations

from services.demo_world.web import Page
from services.demo_world.web import Web as _Web

__all__ = ["SITE", "Page", "Web"]

SITE = "127.0.0.2"


class Web(_Web):
    def __init__(self) -> None:
        super().__init__(SITE, mirrors=("127.0.0.1",))
