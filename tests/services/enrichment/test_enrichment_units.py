"""The pipeline's pure rules and the gateway's token bucket, without a network."""

from __future__ import annotations

import pytest

from gateway.ratelimit import TokenBuckets
from leadmesh.common.v1 import common_pb2 as common
from leadmesh.enrichment.v1 import enrichment_service_pb2 as pb
from libs.errors import InvalidArgument
from services.enrichment.domain import (
    Degradation,
    charge_key,
    confidence,
    cost,
    fingerprint,
    is_company_only,
    rank_contacts,
    validate_lead,
    validate_options,
)


def test_cost_is_one_credit_or_eleven_with_phone() -> None:
    assert cost(pb.EnrichOptions()) == 1
    assert cost(pb.EnrichOptions(fields=[common.FIELD_GROUP_PERSON])) == 1
    assert cost(pb.EnrichOptions(fields=[common.FIELD_GROUP_PHONE])) == 11


def test_fingerprint_ignores_spelling_but_not_content() -> None:
    options = pb.EnrichOptions()
    same = fingerprint(common.LeadInput(email="A@X.com"), options)
    assert same == fingerprint(common.LeadInput(email=" a@x.com "), options)
    assert same != fingerprint(common.LeadInput(email="b@x.com"), options)
    assert same != fingerprint(
        common.LeadInput(email="a@x.com"), pb.EnrichOptions(fields=[common.FIELD_GROUP_PHONE])
    )


def test_charge_keys_stay_out_of_billings_reserved_space() -> None:
    assert not charge_key("lm:anything").startswith("lm:")


def test_confidence_drops_with_each_degradation() -> None:
    assert confidence(0.9, []) == 0.9
    one = confidence(0.9, [Degradation("verifier", "UNAVAILABLE")])
    two = confidence(0.9, [Degradation("verifier", "UNAVAILABLE"), Degradation("intent", "UNAVAILABLE")])
    assert 0 < two < one < 0.9


@pytest.mark.parametrize(
    ("lead", "reason"),
    [
        (common.LeadInput(), "NO_IDENTIFIER"),
        (common.LeadInput(first_name="A", last_name="B"), "NO_IDENTIFIER"),
        (common.LeadInput(email="nope"), "INVALID_EMAIL"),
        (common.LeadInput(email="a@b"), "INVALID_EMAIL"),
        (common.LeadInput(company_name="x" * 400), "FIELD_TOO_LONG"),
    ],
)
def test_unusable_leads_are_invalid(lead: common.LeadInput, reason: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        validate_lead(lead)
    assert raised.value.reason == reason


def test_usable_leads_and_company_only() -> None:
    for lead in (
        common.LeadInput(email="a@b.com"),
        common.LeadInput(full_name="A B", company_name="Acme"),
        common.LeadInput(company_domain="acme.com"),
        common.LeadInput(linkedin_url="linkedin.com/in/x"),
    ):
        validate_lead(lead)
    assert is_company_only(common.LeadInput(company_domain="acme.com"))
    assert not is_company_only(common.LeadInput(full_name="A B", company_domain="acme.com"))
    with pytest.raises(InvalidArgument):
        validate_options(pb.EnrichOptions(fields=[99]))  # type: ignore[list-item]


def test_contacts_rank_by_score_unscored_last() -> None:
    def lead(name: str, score: int | None) -> pb.EnrichedLead:
        made = pb.EnrichedLead(person=common.Person(first_name=name))
        if score is not None:
            made.icp.score = score
        return made

    ranked = rank_contacts([lead("a", 10), lead("b", None), lead("c", 90), lead("d", 50)], 3)
    assert [c.person.first_name for c in ranked] == ["c", "d", "a"]


def test_token_bucket_refuses_past_the_burst_and_refills() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=3, clock=lambda: now[0])
    assert [buckets.take("k").allowed for _ in range(4)] == [True, True, True, False]
    refused = buckets.take("k")
    assert refused.headers()["Retry-After"] == "1" and refused.remaining == 0
    assert buckets.take("other").allowed
    now[0] += 0.5
    assert buckets.take("k").allowed
