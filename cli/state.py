"""Where a stack started by ``leadmesh up`` keeps its state, so admin commands find the same stack."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from libs.settings import CommonSettings, MeshAddresses

__all__ = ["StackState", "home_dir", "mesh_addresses", "store_target"]


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


def store_target() -> tuple[str, str]:
    """The running stack's store, else LEADMESH_MONGODB_URI (and LEADMESH_MONGODB_DATABASE)."""
    settings = CommonSettings()
    state = StackState.load(home_dir())
    return (state.mongodb_uri if state else settings.mongodb_uri), settings.mongodb_database
