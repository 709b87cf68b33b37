"""Caller credentials of the gRPC mesh: signed tokens naming a caller and its scopes.

A credential is a JWT (RFC 7519) signed with Ed25519 (``alg: EdDSA``): ``sub`` is the caller's
``client_id``, ``scope`` its space-separated scopes, ``iat`` when it was issued, ``aud``
``leadmesh-grpc``, and the header's ``kid`` names the signing key. Whoever holds the signing key
(``leadmesh up``, an operator's ``leadmesh clients create``) issues credentials; a service holds
only the public verify key(s), so a compromised pod can check credentials but never mint one. A
server verifies a token locally, without a round trip, and remembers the tokens it has verified
(a mesh reuses a handful of them), so a call costs a dictionary look-up; revocation is checked on
every call by :mod:`libs.caller_auth`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from libs.errors import Unauthenticated

__all__ = [
    "AUDIENCE",
    "Caller",
    "SigningKey",
    "TokenVerifier",
    "key_id",
    "load_verify_keys",
    "new_client_id",
]

AUDIENCE = "leadmesh-grpc"
_PEM_END = b"-----END PUBLIC KEY-----"


@dataclass(frozen=True)
class Caller:
    """Who made a call, as its verified credential says."""

    client_id: str
    scopes: frozenset[str]
    issued_at: int
    expires_at: int | None = None
    # A credential bound to one account may act for that account only (libs.caller_auth).
    account_id: str | None = None


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def new_client_id(name: str) -> str:
    """A client id for a credential named ``name``: ``cl_<name>_<random>``."""
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.strip().lower())[:40]
    return f"cl_{slug}_{secrets.token_hex(4)}"


class SigningKey:
    """The Ed25519 private key that issues credentials (PEM, PKCS#8, kept by the operator)."""

    def __init__(self, private_key: Ed25519PrivateKey):
        self.private_key = private_key
        self.kid = key_id(private_key.public_key())

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(key)

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def issue(
        self,
        client_id: str,
        scopes: Iterable[str],
        *,
        expires_in: float | None = None,
        account_id: str | None = None,
    ) -> str:
        """A credential for ``client_id`` with ``scopes`` (valid until revoked, or ``expires_in``
        seconds), bound to ``account_id`` when given (claim ``acct``)."""
        now = int(time.time())
        claims: dict[str, object] = {
            "sub": client_id,
            "scope": " ".join(sorted(set(scopes))),
            "iat": now,
            "aud": AUDIENCE,
        }
        if expires_in is not None:
            claims["exp"] = now + int(expires_in)
        if account_id:
            claims["acct"] = account_id
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})


def load_verify_keys(pem: bytes) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 public keys of a PEM text holding one or more (a rotation lists the old key and
    the new one), by key id."""
    keys: dict[str, Ed25519PublicKey] = {}
    for block in pem.split(_PEM_END):
        if not block.strip():
            continue
        key = serialization.load_pem_public_key(block.strip() + b"\n" + _PEM_END + b"\n")
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("a gRPC verify key must be an Ed25519 public key")
        keys[key_id(key)] = key
    if not keys:
        raise ValueError("no public key in the gRPC verify key")
    return keys


class TokenVerifier:
    """Checks credentials against the verify keys; remembers up to ``remember`` verified tokens."""

    def __init__(self, keys: dict[str, Ed25519PublicKey], remember: int = 1024):
        self.keys = keys
        self.remember = remember
        self._verified: OrderedDict[str, Caller] = OrderedDict()

    def verify(self, token: str) -> Caller:
        """The caller of ``token``; :class:`Unauthenticated` (``CREDENTIAL_INVALID`` or
        ``CREDENTIAL_EXPIRED``) when it is not one of ours or no longer valid."""
        caller = self._verified.get(token)
        if caller is None:
            caller = self._decode(token)
            self._verified[token] = caller
            if len(self._verified) > self.remember:
                self._verified.popitem(last=False)
        if caller.expires_at is not None and caller.expires_at <= time.time():
            raise Unauthenticated("the credential has expired", reason="CREDENTIAL_EXPIRED")
        return caller

    def _decode(self, token: str) -> Caller:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keys.get(str(kid))
            if key is None:
                raise jwt.InvalidTokenError("signed by an unknown key")
            claims = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=AUDIENCE,
                options={"require": ["sub", "iat", "aud"], "verify_exp": False},
            )
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(
                f"the credential is not valid here ({exc})", reason="CREDENTIAL_INVALID"
            ) from None
        expires = claims.get("exp")
        return Caller(
            client_id=str(claims["sub"]),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            issued_at=int(claims["iat"]),
            expires_at=int(expires) if expires is not None else None,
            account_id=str(claims["acct"]) if claims.get("acct") else None,
        )
