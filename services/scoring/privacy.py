"""Scoring keeps no people: only the accounts' ICP profiles."""

from __future__ import annotations

from libs.privacy import PersonalData

__all__ = ["declared"]


def declared() -> PersonalData:
    return PersonalData(service="scoring", holdings=(), no_personal_data=frozenset({"scoring_icp_profiles"}))
