"""Enrichment's settings (``LEADMESH_`` environment)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from libs.settings import CommonSettings

__all__ = ["EnrichmentSettings"]


class EnrichmentSettings(CommonSettings):
    # Caps of each downstream call, seconds; the incoming deadline lowers them further.
    enrichment_providers_timeout: float = Field(default=5.0, gt=0)
    enrichment_verifier_timeout: float = Field(default=3.0, gt=0)
    enrichment_intent_timeout: float = Field(default=1.5, gt=0)
    enrichment_scoring_timeout: float = Field(default=1.5, gt=0)
    enrichment_billing_timeout: float = Field(default=3.0, gt=0)
    # Time kept back from the verifier/intent/scoring stages for the charge and the store write.
    enrichment_reserve_seconds: float = Field(default=0.3, ge=0)
    # EnrichBatch: each lead past the first adds this to every cap above (500 leads: +10 s).
    enrichment_batch_seconds_per_lead: float = Field(default=0.02, ge=0)
    # Items of one EnrichBatch call.
    enrichment_max_batch: int = Field(default=1_000, ge=1)
    # The stages whose concurrent calls are coalesced (any of providers, verifier, intent, scoring,
    # billing). A call waits at most libs.coalesce.MAX_WAIT to be merged. Lookups and signals whose
    # calls typically take longer than services.enrichment.downstream.ALONE_AFTER (a remote vendor,
    # a company's website) go alone; otherwise a merged lookup or signals call lasts as long as its
    # slowest lead: leave out a stage whose calls are mostly fast but now and then very slow for one
    # lead. The verifier's merged calls answer each lead as its addresses are done.
    enrichment_coalesce_stages: frozenset[
        Literal["providers", "verifier", "intent", "scoring", "billing"]
    ] = frozenset({"providers", "verifier", "intent", "scoring", "billing"})
    # Concurrent calls of one stage (same request header: account and options; the verifier's
    # has no account) past this many in flight wait for a slot (at most libs.coalesce.MAX_WAIT,
    # then they go anyway) and go out together as one batch call (services.enrichment.downstream).
    # 1 coalesces the most and measured best at 4 and at 32 concurrent requests alike
    # (benchmarks/lead_api.py).
    enrichment_coalesce_limit: int = Field(default=1, ge=1)
    # Items of one coalesced call; a call with as many goes alone, at once. At most 1,000, what
    # billing's ChargeEach takes.
    enrichment_coalesce_max_items: int = Field(default=256, ge=1, le=1_000)
