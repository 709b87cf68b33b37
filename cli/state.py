"""Where a stack started by ``leadmesh up`` keeps its state, so admin commands find the same stack."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from libs.settings import CommonSettings, MeshAddresses

__all__ = [
    "StackState",
    "home_dir",
    "home_secret",
    "local_webhook_secret",
    "mesh_addresses",
    "privacy_secret",
    "store_target",
]


def home_dir() -> Path:
    """``$LEADMESH_HOME``, else ``./.leadmesh`` of the current directory."""
    return Path(os.environ.get("LEADMESH_HOME") or ".leadmesh").resolve()


@dataclass
class StackState:
    pid: int
    mongodb_uri: str
    amqp_url: str
    addresses: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def path(home: Path) -> Path:
        return home / "stack.json"

    def save(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        tmp = self.path(home).with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.path(home))

    @classmethod
    def load(cls, home: Path) -> StackState | None:
        """The running stack of this home, or None (a state file of a dead process is ignored)."""
        try:
            state = cls(**json.loads(cls.path(home).read_text()))
        except (OSError, ValueError, TypeError):
            return None
        try:
            os.kill(state.pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return state

    @classmethod
    def clear(cls, home: Path) -> None:
        cls.path(home).unlink(missing_ok=True)


def mesh_addresses(home: Path) -> MeshAddresses:
    """The addresses of the stack running from ``home``, else those of the environment."""
    state = StackState.load(home)
    env = MeshAddresses()
    if state is None:
        return env
    return MeshAddresses(**{f"{name}_addr": addr for name, addr in state.addresses.items()})


def home_secret(home: Path, name: str, create: bool) -> str | None:
    """The secret kept in the file ``name`` under ``home`` (readable by its owner only), made at
    random the first time when ``create``; None when there is none and not ``create``."""
    path = home / name
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        if not create:
            return None
    home.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    return secret


def local_webhook_secret(home: Path, create: bool) -> str | None:
    """The webhook master secret of the stacks of ``home``; kept, since every account's webhook
    secret derives from it."""
    return home_secret(home, "webhook-secret", create)


def privacy_secret(home: Path, create: bool = False) -> str | None:
    """``LEADMESH_PRIVACY_HASH_SECRET``, else the one ``leadmesh up`` keeps under ``home``; kept,
    since every suppression is a hash keyed with it."""
    return os.environ.get("LEADMESH_PRIVACY_HASH_SECRET") or home_secret(home, "privacy-hash-secret", create)


def store_target() -> tuple[str, str]:
    """The running stack's store, else LEADMESH_MONGODB_URI (and LEADMESH_MONGODB_DATABASE)."""
    settings = CommonSettings()
    state = StackState.load(home_dir())
    return (state.mongodb_uri if state else settings.mongodb_uri), settings.mongodb_database
