"""Scoring's settings (``LEADMESH_`` environment)."""

from __future__ import annotations

from pydantic import Field

from libs.settings import CommonSettings

__all__ = ["ScoringSettings"]


class ScoringSettings(CommonSettings):
    # Most subjects one ScoreBatch call may carry (a call is also bounded by the 64 MB message limit).
    scoring_max_batch: int = Field(default=100_000, ge=1)
    # Subjects scored between two yields to the event loop, so one large batch does not hold up
    # the other calls (health checks included).
    scoring_batch_slice: int = Field(default=2_000, ge=1)
