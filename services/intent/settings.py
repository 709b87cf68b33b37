"""Intent's settings (``LEADMESH_`` environment)."""

from __future__ import annotations

from pydantic import Field, field_validator

from libs.settings import CommonSettings

__all__ = ["IntentSettings"]


class IntentSettings(CommonSettings):
    # Public job-board APIs, shaped like Greenhouse's and Lever's.
    intent_greenhouse_base_url: str = "https://boards-api.greenhouse.io"
    intent_lever_base_url: str = "https://api.lever.co"
    # Board handles by company domain where the default (the domain's first label) is wrong, e.g.
    # {"acme.com": {"greenhouse": "acmeinc", "lever": ""}}; an empty handle skips that board.
    intent_board_overrides: dict[str, dict[str, str]] = Field(default_factory=dict)
    # Homepage URL by company domain where it is not https://<domain>/.
    intent_homepage_overrides: dict[str, str] = Field(default_factory=dict)
    # CIDRs outbound fetches may reach besides public addresses (tests allow their loopback sites).
    intent_allowed_networks: list[str] = Field(default_factory=list)
    intent_homepage_max_bytes: int = Field(default=2_000_000, ge=1_000)
    intent_board_max_bytes: int = Field(default=8_000_000, ge=1_000)
    # Seconds one outbound fetch (a homepage, a job board) may take, redirects included.
    intent_fetch_timeout: float = Field(default=10.0, gt=0)
    # Outbound fetches at once, per source (company websites; job boards).
    intent_fetch_concurrency: int = Field(default=16, ge=1)
    # Longest a GetSignals call waits for a source due a fetch (never fetched, or failed and due
    # again), less when its deadline is nearer: past it the answer lists the source as pending and
    # the fetch carries on in the background, stored for the next call.
    intent_first_fetch_wait: float = Field(default=0.4, ge=0)
    # Longest a Refresh call waits for its sources.
    intent_refresh_wait: float = Field(default=30.0, ge=0)
    # A source fetched this recently is not fetched again on demand (seconds).
    intent_min_refresh_interval: float = Field(default=60.0, ge=0)
    # A failed (or timed-out) fetch is retried on the next request after this many seconds, twice
    # as long after each further failure in a row, at most intent_retry_failed_max.
    intent_retry_failed_after: float = Field(default=60.0, ge=0)
    intent_retry_failed_max: float = Field(default=3600.0, ge=0)
    # Days after which a signal of each category counts half.
    intent_half_life_hiring_days: float = Field(default=30.0, gt=0)
    intent_half_life_technology_days: float = Field(default=90.0, gt=0)
    intent_half_life_engagement_days: float = Field(default=14.0, gt=0)
    # First-party events older than this do not count; raw events are kept this long plus a month.
    intent_engagement_window_days: int = Field(default=90, ge=1)
    # Seconds between runs of the job deleting expired events and markers.
    intent_purge_interval: float = Field(default=3600.0, gt=0)
    # A competitor's technology that appeared within this many days is being evaluated.
    intent_competitor_evaluation_days: int = Field(default=90, ge=1)
    intent_max_events: int = Field(default=1_000, ge=1)
    intent_max_batch_domains: int = Field(default=1_000, ge=1)
    # The account's ICP competitors come from scoring: its timeout, and how long they are cached.
    intent_scoring_timeout: float = Field(default=0.5, gt=0)
    intent_competitor_cache_seconds: float = Field(default=60.0, ge=0)
    # Companies' stored states and accounts' engagement totals are reused this long in-process.
    intent_read_cache_seconds: float = Field(default=5.0, ge=0)
    # The weekly refresh: the worker consuming intent.refresh inside this process, how often the
    # scheduler looks for companies due, and how long a company stays tracked after a request.
    intent_worker: bool = True
    # Seconds a starting server waits for the broker before answering health checks.
    intent_broker_connect_wait: float = Field(default=5.0, ge=0)
    intent_worker_prefetch: int = Field(default=4, ge=1)
    intent_schedule_interval: float = Field(default=3600.0, gt=0)
    intent_track_days: int = Field(default=90, ge=1)

    @field_validator("intent_board_overrides", "intent_homepage_overrides")
    @classmethod
    def _lower_domains(cls, value: dict[str, object]) -> dict[str, object]:
        return {domain.strip().lower(): entry for domain, entry in value.items()}
