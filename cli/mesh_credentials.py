"""The caller credentials of a stack run by ``leadmesh up``, under ``<home>/grpc/``.

``signing_key.pem`` (the Ed25519 private key, mode 0600, made once), ``verify_key.pem`` (its public
key, given to every service), ``tokens/<service>.token`` (each service's own credential, with the
scopes of the calls it makes) and ``admin.token`` (every scope: the CLI's admin commands). Made
on the first ``leadmesh up`` and kept, so a newcomer notices nothing; deleting the folder makes
new ones (and invalidates every credential issued with the old key).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from libs.caller_auth import SCOPES
from libs.channels import CallerCredential
from libs.credentials import SigningKey
from libs.settings import CommonSettings

__all__ = ["SERVICE_SCOPES", "MeshCredentials", "cli_credential", "signing_key"]

# What each process of the stack calls (its own credential's scopes).
SERVICE_SCOPES: dict[str, tuple[str, ...]] = {
    "gateway": (
        "billing:read",
        "billing:charge",
        "billing:keys",
        "enrich",
        "providers",
        "score",
        "intent",
        "jobs",
    ),
    "enrichment": ("providers", "verify", "intent", "score", "billing:read", "billing:charge"),
    "batch": ("enrich", "billing:read", "billing:charge", "intent", "verify"),
    "intent": ("score",),
    "billing": (),
    "providers": (),
    "verifier": (),
    "scoring": (),
}


@dataclass(frozen=True)
class MeshCredentials:
    directory: Path

    @classmethod
    def of(cls, home: Path) -> MeshCredentials:
        return cls(home / "grpc")

    @property
    def signing_key_path(self) -> Path:
        return self.directory / "signing_key.pem"

    @property
    def verify_key_path(self) -> Path:
        return self.directory / "verify_key.pem"

    @property
    def admin_token_path(self) -> Path:
        return self.directory / "admin.token"

    def token_path(self, process: str) -> Path:
        return self.directory / "tokens" / f"{process}.token"

    def ensure(self) -> None:
        """Makes whatever is missing (a new signing key re-issues every credential)."""
        (self.directory / "tokens").mkdir(parents=True, exist_ok=True)
        if self.signing_key_path.exists():
            key = SigningKey.load(self.signing_key_path)
            fresh = False
        else:
            key = SigningKey.generate()
            _write_private(self.signing_key_path, key.private_pem().decode())
            fresh = True
        self.verify_key_path.write_bytes(key.public_pem())
        for process, scopes in SERVICE_SCOPES.items():
            path = self.token_path(process)
            if fresh or not path.exists():
                _write_private(path, key.issue(f"leadmesh-{process}", scopes))
        if fresh or not self.admin_token_path.exists():
            _write_private(self.admin_token_path, key.issue("leadmesh-admin", SCOPES))

    def process_env(self, process: str) -> dict[str, str]:
        """The variables of one process of the stack (``batch-worker`` calls as ``batch``)."""
        return {
            "LEADMESH_GRPC_VERIFY_KEY_FILE": str(self.verify_key_path),
            "LEADMESH_GRPC_TOKEN_FILE": str(self.token_path(process.removesuffix("-worker"))),
        }


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    tmp.replace(path)


def cli_credential(home: Path) -> CallerCredential:
    """What the CLI's calls carry: ``LEADMESH_GRPC_TOKEN``/``_FILE`` when set, else the admin
    credential of the stack of ``home``."""
    settings = CommonSettings()
    credential = CallerCredential.of(settings)
    admin = MeshCredentials.of(home).admin_token_path
    if credential.token is None and admin.exists():
        return CallerCredential.from_file(admin, credential.root_certificates)
    return credential


def signing_key(home: Path) -> SigningKey:
    """The key ``leadmesh clients create`` signs with: ``LEADMESH_GRPC_SIGNING_KEY_FILE``, else the
    stack's of ``home``."""
    path = CommonSettings().grpc_signing_key_file or MeshCredentials.of(home).signing_key_path
    if not path.exists():
        raise FileNotFoundError(
            f"no signing key at {path}: run `leadmesh up` once, or set LEADMESH_GRPC_SIGNING_KEY_FILE"
        )
    return SigningKey.load(path)
