"""Who may call which RPC of a server: the caller's credential, its scopes, and revocations.

Each service declares the scope every one of its RPCs needs (:func:`method_scopes`); the server
interceptor asks :meth:`CallerAuth.check` before a call runs. No credential or one that does not
verify: ``UNAUTHENTICATED``; a revoked one: ``UNAUTHENTICATED`` (``CREDENTIAL_REVOKED``); a
credential without the RPC's scope, or an RPC that declares none (fail closed):
``PERMISSION_DENIED``. Health and reflection never reach it. A credential bound to one account
(``leadmesh clients create --account``) may only send requests whose top-level ``account_id`` is
that account (each message of a request stream too); a request without that field is refused to
it (fail closed): ``PERMISSION_DENIED`` ``ACCOUNT_MISMATCH`` / ``ACCOUNT_UNCHECKED``.

Revocation: a server re-reads the revoked client ids from the ``grpc_clients`` collection
(:mod:`libs.grpc_clients`, written by ``leadmesh clients``) every ``LEADMESH_GRPC_REVOCATION_INTERVAL``
seconds, so a revoked credential stops working within seconds with no per-call round trip. When
the store cannot be read the last list read stays in force.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import grpc
from google.protobuf.message import Message

from libs.credentials import Caller, TokenVerifier, load_verify_keys
from libs.errors import PermissionDenied, Unauthenticated
from libs.interceptors import AUTHORIZATION_KEY
from libs.periodic import Every
from libs.settings import CommonSettings

__all__ = ["SCOPES", "CallerAuth", "ServerTls", "method_scopes", "verify_keys_pem"]

log = logging.getLogger("leadmesh.auth")

# Every scope a credential may carry, and what it lets a caller do.
SCOPES: dict[str, str] = {
    "enrich": "EnrichmentService: enrich leads and read stored enrichments",
    "providers": "ProvidersService: look up people and companies",
    "verify": "VerifierService: verify email addresses",
    "score": "ScoringService: ICP profiles and scores",
    "intent": "IntentService: intent signals and first-party events",
    "jobs": "BatchService: CSV jobs, their results and webhook secrets",
    "billing:read": "BillingService: read accounts, API keys, balances, the ledger; authenticate keys",
    "billing:charge": "BillingService: charge, reserve, settle and release credits",
    "billing:keys": "BillingService: create and revoke an account's API keys (the dashboard's keys page)",
    "billing:admin": "BillingService: create accounts and API keys, revoke keys, add credits",
    "privacy:admin": "PrivacyService of every service: erase people; providers' erasure audit",
}

RevokedLoader = Callable[[], Awaitable[Iterable[str]]]


def method_scopes(service: str, scopes: Mapping[str, str]) -> dict[str, str]:
    """``{"/<service>/<Method>": scope}`` from ``{"<Method>": scope}`` (each scope one of SCOPES)."""
    unknown = sorted(set(scopes.values()) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {unknown} for {service}")
    return {f"/{service}/{method}": scope for method, scope in scopes.items()}


def verify_keys_pem(settings: CommonSettings) -> bytes:
    """The verify key(s) of ``LEADMESH_GRPC_VERIFY_KEY`` or ``LEADMESH_GRPC_VERIFY_KEY_FILE``."""
    if settings.grpc_verify_key:
        return settings.grpc_verify_key.encode()
    if settings.grpc_verify_key_file is not None:
        return settings.grpc_verify_key_file.read_bytes()
    raise ValueError(
        "no gRPC verify key: set LEADMESH_GRPC_VERIFY_KEY_FILE (or LEADMESH_GRPC_VERIFY_KEY) to the "
        "public key that signs the mesh's credentials (`leadmesh up` makes one under .leadmesh/grpc/)"
    )


class CallerAuth:
    """The credential check of one server (see the module's doc). ``start()``/``stop()`` run the
    revocation refresh (the gRPC server does, around serving)."""

    def __init__(
        self,
        verifier: TokenVerifier,
        scopes: Mapping[str, str],
        revoked: RevokedLoader | None = None,
        refresh_interval: float = 2.0,
    ):
        self.verifier = verifier
        self.scopes = dict(scopes)
        self.revoked: frozenset[str] = frozenset()
        self._load = revoked
        self._refresh = Every(refresh_interval, self.refresh) if revoked is not None else None

    @classmethod
    def of(
        cls, settings: CommonSettings, scopes: Mapping[str, str], revoked: RevokedLoader | None
    ) -> CallerAuth:
        verifier = TokenVerifier(load_verify_keys(verify_keys_pem(settings)))
        return cls(verifier, scopes, revoked, settings.grpc_revocation_interval)

    def undeclared(self, methods: Iterable[str]) -> list[str]:
        """Those of ``methods`` (``/<service>/<Method>``) that declare no scope."""
        return [method for method in methods if method not in self.scopes]

    def identify(self, metadata: Any) -> Caller:
        """The caller of a call's ``metadata``: UNAUTHENTICATED without a valid credential."""
        token = _bearer(metadata)
        if token is None:
            raise Unauthenticated(
                "this call carries no credential: send `authorization: Bearer <token>` metadata "
                "(README: Calling the gRPC services)",
                reason="CREDENTIAL_MISSING",
            )
        caller = self.verifier.verify(token)
        if caller.client_id in self.revoked:
            raise Unauthenticated(
                f"the credential of {caller.client_id} has been revoked",
                reason="CREDENTIAL_REVOKED",
                metadata={"client_id": caller.client_id},
            )
        return caller

    def authorize(self, method: str, caller: Caller) -> None:
        """PERMISSION_DENIED unless ``caller`` has the scope ``method`` declares."""
        needed = self.scopes.get(method)
        if needed is None:
            raise PermissionDenied(
                f"{method} declares no scope, so no caller may call it",
                reason="SCOPE_UNDECLARED",
                metadata={"method": method},
            )
        if needed not in caller.scopes:
            raise PermissionDenied(
                f"{method} needs the scope {needed!r}, which the credential of {caller.client_id} lacks",
                reason="SCOPE_MISSING",
                metadata={"method": method, "scope": needed, "client_id": caller.client_id},
            )

    def bind(self, caller: Caller, request: Any) -> Any:
        """``request`` as the RPC receives it (a message, or a stream of them), held to the account
        of an account-bound ``caller``."""
        if caller.account_id is None:
            return request
        if isinstance(request, Message):
            _same_account(caller, request)
            return request
        return _held_to_account(caller, request)

    async def refresh(self) -> None:
        if self._load is not None:
            self.revoked = frozenset(await self._load())

    async def start(self) -> None:
        if self._refresh is None:
            return
        try:
            await self.refresh()
        except Exception:  # the store is not up yet: the refresh keeps trying
            log.warning("could not read the revoked gRPC credentials", exc_info=True)
        await self._refresh.start()

    async def stop(self) -> None:
        if self._refresh is not None:
            await self._refresh.stop()


def _same_account(caller: Caller, message: Message) -> None:
    if "account_id" not in message.DESCRIPTOR.fields_by_name:
        raise PermissionDenied(
            f"the credential of {caller.client_id} is bound to one account, so it may call only RPCs "
            "whose request names its account_id",
            reason="ACCOUNT_UNCHECKED",
            metadata={"account_id": str(caller.account_id), "client_id": caller.client_id},
        )
    if message.account_id != caller.account_id:  # type: ignore[attr-defined]
        raise PermissionDenied(
            f"the credential of {caller.client_id} acts for account {caller.account_id} only",
            reason="ACCOUNT_MISMATCH",
            metadata={"account_id": str(caller.account_id), "client_id": caller.client_id},
        )


async def _held_to_account(caller: Caller, stream: AsyncIterator[Message]) -> AsyncIterator[Message]:
    async for message in stream:
        _same_account(caller, message)
        yield message


def _bearer(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key == AUTHORIZATION_KEY:
            scheme, _, token = str(value).partition(" ")
            if scheme.lower() != "bearer":
                return None
            return token.strip() or None
    return None


class ServerTls:
    """The server's certificate chain and private key (PEM)."""

    def __init__(self, cert_chain: bytes, private_key: bytes):
        self.cert_chain = cert_chain
        self.private_key = private_key

    @classmethod
    def of(cls, settings: CommonSettings) -> ServerTls | None:
        """From ``LEADMESH_GRPC_TLS_CERT_FILE`` and ``LEADMESH_GRPC_TLS_KEY_FILE`` (None without them)."""
        cert, key = settings.grpc_tls_cert_file, settings.grpc_tls_key_file
        if cert is None and key is None:
            return None
        if cert is None or key is None:
            raise ValueError(
                "set both LEADMESH_GRPC_TLS_CERT_FILE and LEADMESH_GRPC_TLS_KEY_FILE, or neither"
            )
        return cls(cert.read_bytes(), key.read_bytes())

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials([(self.private_key, self.cert_chain)])
