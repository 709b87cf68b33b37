"""IcpProfiles: the versions of each account's profile, and the compiled scorer of a version.

A new account's first read stores the default profile as version 1 (insert on the unique
``(account_id, version)`` index: concurrent first reads agree on one document). An update
stores version n+1 by the same insert, so of two concurrent updates one wins and the other
retries on top of it (or fails with ABORTED when it named the version it expected).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from libs.errors import Conflict, InvalidArgument, NotFound
from libs.ids import decode_page_token, encode_page_token, page_size
from libs.mongo import utc_now
from libs.ttlcache import TtlCache
from services.scoring.domain import DEFAULT_PROFILE, IcpProfile, IcpScorer, VersionedProfile, validate_profile
from services.scoring.repository import ScoringRepository

__all__ = ["IcpProfiles"]

MAX_ACCOUNT_ID_LENGTH = 128
UPDATE_ATTEMPTS = 5
SCORER_CACHE_SIZE = 128
# Scoring reads the current version for every lead; it is kept this long. An update made through
# this replica is used at once, one made through another within CURRENT_TTL seconds.
CURRENT_TTL = 2.0
CURRENT_CACHE_SIZE = 10_000


def _account(account_id: str) -> str:
    if not account_id:
        raise InvalidArgument("account_id is required", reason="ACCOUNT_ID_REQUIRED")
    if len(account_id) > MAX_ACCOUNT_ID_LENGTH:
        raise InvalidArgument("account_id is too long", reason="INVALID_ACCOUNT_ID")
    return account_id


def _version(version: int, field: str = "version") -> int:
    if version < 0:
        raise InvalidArgument(f"{field} must not be negative", reason="INVALID_VERSION")
    return version


class IcpProfiles:
    def __init__(self, repository: ScoringRepository, clock: Callable[[], datetime] = utc_now):
        self.repository = repository
        self.clock = clock
        # Versions never change once stored, so their compiled scorers are kept.
        self._scorers: OrderedDict[tuple[str, int], IcpScorer] = OrderedDict()
        self._current: TtlCache[str, VersionedProfile] = TtlCache(CURRENT_TTL, CURRENT_CACHE_SIZE)

    async def current(self, account_id: str, *, fresh: bool = False) -> VersionedProfile:
        """The newest version (as of at most CURRENT_TTL ago unless ``fresh``); for a new
        account, the default stored as version 1."""
        account_id = _account(account_id)
        cached = None if fresh else self._current.get(account_id)
        if cached is not None:
            return cached
        latest = await self.repository.latest(account_id)
        if latest is None:
            default = VersionedProfile(account_id, 1, DEFAULT_PROFILE, self.clock(), is_default=True)
            latest = (
                default if await self.repository.insert(default) else await self.repository.latest(account_id)
            )
            assert latest is not None, "profiles are never deleted"
        self._current.put(account_id, latest)
        return latest

    async def get(self, account_id: str, version: int = 0) -> VersionedProfile:
        """Version ``version`` of the account's profile, the current one for 0."""
        if _version(version) == 0:
            return await self.current(account_id)
        found = await self.repository.get(_account(account_id), version)
        if found is None and version == 1:
            await self.current(account_id)  # a new account's version 1 is the default
            found = await self.repository.get(account_id, 1)
        if found is None:
            raise NotFound(
                f"ICP profile version {version} does not exist", reason="ICP_PROFILE_VERSION_NOT_FOUND"
            )
        return found

    async def update(
        self, account_id: str, profile: IcpProfile, expected_version: int = 0
    ) -> VersionedProfile:
        """Stores the validated profile as the next version and returns it.

        An update that changes nothing returns the current version (so a retried update does
        not make a second version). With ``expected_version``, the update is refused (ABORTED)
        unless that is still the current version.
        """
        _version(expected_version, "expected_version")
        validated = validate_profile(profile)
        for _ in range(UPDATE_ATTEMPTS):
            current = await self.current(account_id, fresh=True)
            if current.profile == validated:
                return current
            if expected_version and expected_version != current.version:
                raise Conflict(
                    f"the ICP profile is at version {current.version}, not {expected_version}",
                    reason="ICP_VERSION_CONFLICT",
                    metadata={"current_version": str(current.version)},
                )
            created = VersionedProfile(account_id, current.version + 1, validated, self.clock())
            if await self.repository.insert(created):
                self._current.put(account_id, created)
                return created
        raise Conflict("the ICP profile is being updated concurrently; retry", reason="ICP_VERSION_CONFLICT")

    async def versions(
        self, account_id: str, requested_page_size: int, page_token: str
    ) -> tuple[list[VersionedProfile], str]:
        """One page of versions, newest first, and the token of the next page ("" at the end)."""
        limit = page_size(requested_page_size)
        below: int | None = None
        if page_token:
            cursor = decode_page_token(page_token)
            if not cursor.isdigit():
                raise InvalidArgument("page_token is malformed", reason="INVALID_PAGE_TOKEN")
            below = int(cursor)
        else:
            await self.current(account_id)  # a new account lists its default version
        page = await self.repository.list(_account(account_id), below, limit + 1)
        token = encode_page_token(str(page[limit - 1].version)) if len(page) > limit else ""
        return page[:limit], token

    async def scorer(self, account_id: str, version: int = 0) -> IcpScorer:
        """The compiled scorer of a version (the current one for 0)."""
        if version:
            cached = self._scorers.get((account_id, version))
            if cached is not None:
                self._scorers.move_to_end((account_id, version))
                return cached
        profile = await self.get(account_id, version)
        key = (account_id, profile.version)
        scorer = self._scorers.get(key)
        if scorer is None:
            scorer = IcpScorer(profile.profile, profile.version)
            self._scorers[key] = scorer
            if len(self._scorers) > SCORER_CACHE_SIZE:
                self._scorers.popitem(last=False)
        self._scorers.move_to_end(key)
        return scorer
