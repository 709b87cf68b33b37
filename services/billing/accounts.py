"""AccountDirectory: accounts and their API keys (issue, list, revoke, authenticate)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from libs.errors import InvalidArgument, NotFound, Unauthenticated
from libs.ids import decode_page_token, encode_page_token, page_size
from services.billing.domain import Account, ApiKey, ApiKeyMode, hash_secret, issue_key, looks_like_key
from services.billing.ledger import CreditLedger
from services.billing.repository import BillingRepository, PrefixTaken

__all__ = ["AccountDirectory", "NewAccount", "NewKey"]

MAX_NAME_LENGTH = 200
# A key's last use is written at most once per this long (not on every request).
LAST_USE_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewKey:
    api_key: ApiKey
    secret: str


@dataclass(frozen=True)
class NewAccount:
    account: Account
    key: NewKey | None


class AccountDirectory:
    def __init__(self, repository: BillingRepository, ledger: CreditLedger):
        self.repository = repository
        self.ledger = ledger

    async def create_account(self, name: str, initial_credits: int, with_key: bool) -> NewAccount:
        name = name.strip()
        if not name:
            raise InvalidArgument("name is required", reason="NAME_REQUIRED")
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidArgument(f"name is longer than {MAX_NAME_LENGTH} characters")
        if initial_credits < 0:
            raise InvalidArgument("initial_credits must not be negative", reason="INVALID_AMOUNT")
        account = await self.repository.insert_account(name)
        if initial_credits:
            await self.ledger.initial_credits(account.account_id, initial_credits)
        account = await self.ledger.account(account.account_id)
        key = await self.create_key(account.account_id, ApiKeyMode.LIVE, "default") if with_key else None
        return NewAccount(account, key)

    async def create_key(self, account_id: str, mode: ApiKeyMode, name: str) -> NewKey:
        if await self.repository.get_account(account_id) is None:
            raise NotFound(f"account {account_id} not found", reason="ACCOUNT_NOT_FOUND")
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidArgument(f"name is longer than {MAX_NAME_LENGTH} characters")
        while True:
            issued = issue_key(mode)
            try:
                api_key = await self.repository.insert_api_key(account_id, issued, name)
            except PrefixTaken:
                continue
            return NewKey(api_key, issued.secret)

    async def revoke_key(self, prefix: str, account_id: str) -> ApiKey:
        """Revokes the key of ``account_id`` with ``prefix``: a key is revoked within its account,
        never by its prefix alone (an empty ``account_id`` is refused)."""
        if not prefix:
            raise InvalidArgument("prefix is required", reason="PREFIX_REQUIRED")
        if not account_id:
            raise InvalidArgument(
                "account_id is required: a key is revoked within its account", reason="ACCOUNT_ID_REQUIRED"
            )
        api_key = await self.repository.revoke_api_key(prefix, account_id)
        if api_key is None:
            raise NotFound(f"no API key with prefix {prefix!r}", reason="API_KEY_NOT_FOUND")
        return api_key

    async def keys(self, account_id: str, size: int, token: str) -> tuple[list[ApiKey], str]:
        """A page of the account's keys, newest first, and the token of the next page."""
        limit = page_size(size)
        after = decode_page_token(token) if token else None
        await self.ledger.account(account_id)
        keys = await self.repository.list_api_keys(account_id, after, limit + 1)
        next_token = encode_page_token(keys[limit - 1].key_id) if len(keys) > limit else ""
        return keys[:limit], next_token

    async def authenticate(self, secret: str) -> ApiKey:
        if not looks_like_key(secret):
            raise Unauthenticated("the API key is malformed", reason="API_KEY_INVALID")
        api_key = await self.repository.find_api_key(hash_secret(secret))
        if api_key is None:
            raise Unauthenticated("the API key is not valid", reason="API_KEY_INVALID")
        if api_key.revoked:
            raise Unauthenticated("the API key has been revoked", reason="API_KEY_REVOKED")
        now = self.ledger.clock()
        if api_key.last_use_time is None or now - api_key.last_use_time >= LAST_USE_PRECISION:
            await self.repository.mark_api_key_used(api_key.key_id, now)
            api_key = replace(api_key, last_use_time=now)
        return api_key
