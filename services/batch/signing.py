"""The webhook master secret, and each account's signing secrets derived from it, rotatable.

An account's secret is never stored. Until its first rotation it is
``HMAC-SHA256(master, "webhook:<account>")`` (version 0, as before rotation existed); a rotation
draws 32 random bytes (a salt) and makes version ``n`` the secret
``HMAC-SHA256(master, "webhook:<account>:<n>:<salt>")``. ``batch_webhook_secrets`` keeps, per
account, the current version and salt and the versions it replaced with the time each stops
signing; read alone (a backup, a leaked dump) it gives no secret, since the master is needed too,
and a new salt makes the new secret unrelated to every earlier one. (Stored hashed it would be
useless: the worker signs with the secret itself.)

After a rotation the replaced secret keeps signing for ``grace`` seconds: each delivery then
carries one ``v1=`` signature per secret (``t=<unix seconds>,v1=<new>,v1=<old>``), so a receiver
that still verifies with the old secret keeps accepting, and switches when it likes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from libs.errors import Conflict
from libs.mongo import Document, as_datetime, utc_now
from libs.protos import require_account

__all__ = [
    "KNOWN_DEVELOPMENT_SECRETS",
    "MIN_MASTER_LENGTH",
    "WebhookSecrets",
    "account_webhook_secret",
    "master_secret_problem",
]

MIN_MASTER_LENGTH = 32
# Values published with the code (an old default): anyone could sign with them.
KNOWN_DEVELOPMENT_SECRETS = frozenset({"dev-only-webhook-secret-change-me"})
# Replaced secrets still within their grace period kept per account (older ones stop at once).
MAX_PREVIOUS = 4
_ATTEMPTS = 5


def master_secret_problem(secret: str | None) -> str | None:
    """Why ``secret`` cannot be the master secret of a deployment, or None when it can."""
    how = (
        "set LEADMESH_WEBHOOK_SECRET to a random value of at least "
        f"{MIN_MASTER_LENGTH} characters, e.g. the output of "
        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` (keep it: every account's "
        "webhook secret derives from it); `leadmesh up` makes one for you under .leadmesh/"
    )
    if not secret:
        return f"LEADMESH_WEBHOOK_SECRET is not set: {how}"
    if secret in KNOWN_DEVELOPMENT_SECRETS:
        return f"LEADMESH_WEBHOOK_SECRET is the published development value: {how}"
    if len(secret) < MIN_MASTER_LENGTH:
        return f"LEADMESH_WEBHOOK_SECRET has {len(secret)} characters, too short: {how}"
    return None


def account_webhook_secret(master_secret: str, account_id: str, version: int = 0, salt: str = "") -> str:
    """The signing secret of one account (of one version of it), derived from the deployment's
    master secret: knowing it tells nothing about another account's, or another version's."""
    if not master_secret or not account_id:
        raise ValueError("a webhook secret needs a master secret and an account id")
    message = f"webhook:{account_id}" if version == 0 else f"webhook:{account_id}:{version}:{salt}"
    mac = hmac.new(master_secret.encode(), message.encode(), hashlib.sha256)
    return "whsec_" + base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


class WebhookSecrets:
    """The accounts' signing secrets (``batch_webhook_secrets``: only versions and salts)."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        master_secret: str,
        grace: float,
        clock: Callable[[], datetime] = utc_now,
    ):
        # Without a master secret (a process built in a test, say) every secret is a ValueError;
        # the entry points refuse to start without a good one (master_secret_problem).
        self.collection = db["batch_webhook_secrets"]
        self.master_secret = master_secret
        self.grace = timedelta(seconds=grace)
        self.clock = clock

    def _secret(self, account_id: str, version: dict[str, Any]) -> str:
        return account_webhook_secret(
            self.master_secret, account_id, int(version.get("version", 0)), str(version.get("salt", ""))
        )

    async def current(self, account_id: str) -> str:
        require_account(account_id)
        found = await self.collection.find_one({"_id": account_id})
        return self._secret(account_id, found["current"] if found else {})

    async def signing(self, account_id: str) -> list[str]:
        """The secrets a delivery is signed with now: the current one first, then those it
        replaced whose grace period has not ended."""
        found = await self.collection.find_one({"_id": account_id})
        if found is None:
            return [self._secret(account_id, {})]
        live = self._live(found.get("previous", []))
        return [self._secret(account_id, found["current"]), *(self._secret(account_id, v) for v in live)]

    def _live(self, previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
        now = self.clock()
        return [v for v in previous if (as_datetime(v.get("expire_time")) or now) > now]

    async def rotate(self, account_id: str) -> tuple[str, datetime]:
        """A new current secret; the replaced one signs too until the returned time."""
        require_account(account_id)
        for _ in range(_ATTEMPTS):
            found = await self.collection.find_one({"_id": account_id})
            current: dict[str, Any] = found["current"] if found else {"version": 0, "salt": ""}
            expire_time = self.clock() + self.grace
            replaced = {**current, "expire_time": expire_time}
            previous = [replaced, *self._live(found.get("previous", []) if found else [])][:MAX_PREVIOUS]
            new = {"version": int(current["version"]) + 1, "salt": os.urandom(32).hex()}
            document = {"current": new, "previous": previous, "rotate_time": self.clock()}
            if found is None:
                try:
                    await self.collection.insert_one({"_id": account_id, **document})
                except DuplicateKeyError:
                    continue  # rotated concurrently: again, from that one
            else:
                updated = await self.collection.update_one(
                    {"_id": account_id, "current.version": current["version"]}, {"$set": document}
                )
                if updated.modified_count != 1:
                    continue
            return self._secret(account_id, new), expire_time
        raise Conflict(
            "the webhook secret is being rotated by another call; retry", reason="ROTATION_CONFLICT"
        )
