"""The caller credentials of the test run: one signing key, made when the suite starts, whose public
key every service built by a test verifies with (``LEADMESH_GRPC_VERIFY_KEY``), and an admin
credential with every scope that the services and the tests' own channels call with
(``LEADMESH_GRPC_TOKEN``). :func:`channel` is a test's channel to a service, carrying it."""

from __future__ import annotations

import os

from libs.caller_auth import SCOPES
from libs.channels import CallerCredential, Channel, open_channel
from libs.credentials import SigningKey

__all__ = ["ADMIN_TOKEN", "SIGNING_KEY", "caller_env", "channel", "install"]

SIGNING_KEY = SigningKey.generate()
ADMIN_TOKEN = SIGNING_KEY.issue("tests-admin", SCOPES)


def caller_env() -> dict[str, str]:
    """The variables that let a service process (or the CLI) of a test verify and make calls."""
    return {"LEADMESH_GRPC_VERIFY_KEY": SIGNING_KEY.public_pem().decode(), "LEADMESH_GRPC_TOKEN": ADMIN_TOKEN}


def install() -> None:
    """Puts :func:`caller_env` in this process's environment (settings built by tests read it)."""
    os.environ.update(caller_env())


def channel(address: str, token: str | None = ADMIN_TOKEN, options: object = ()) -> Channel:
    """A channel to ``address`` whose calls carry ``token`` (None: calls without a credential),
    with no default deadline, as ``grpc.aio.insecure_channel`` gives."""
    return open_channel(address, CallerCredential(token), None, options)
