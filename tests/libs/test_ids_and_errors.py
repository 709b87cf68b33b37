"""libs.ids: time-ordered prefixed ids, opaque page tokens, page sizes; libs.errors' stable reasons."""

from __future__ import annotations

import base64
import time

import grpc
import pytest

from libs.errors import FailedPrecondition, InvalidArgument, LeadmeshError, NotFound
from libs.ids import BASE62, decode_page_token, encode_page_token, new_id, page_size


def test_new_id_is_prefixed_and_base62() -> None:
    lead_id = new_id("le")
    assert lead_id.startswith("le_")
    body = lead_id.removeprefix("le_")
    assert len(body) == 12 + 10
    assert set(body) <= set(BASE62)


def test_ids_made_later_sort_later() -> None:
    ids = []
    for _ in range(5):
        ids.append(new_id("le"))
        time.sleep(0.002)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_made_in_the_same_millisecond_differ() -> None:
    ids = {new_id("ev") for _ in range(1000)}
    assert len(ids) == 1000


@pytest.mark.parametrize("last_id", ["le_0193a1b2c3d4Xy7AbCdEfGh", "a", "acct with spaces/and:colons"])
def test_page_tokens_round_trip(last_id: str) -> None:
    token = encode_page_token(last_id)
    assert last_id not in token, "a page token is opaque"
    assert decode_page_token(token) == last_id


def test_page_tokens_are_url_safe() -> None:
    token = encode_page_token("le_\xff\xfe~~~???>>>")
    assert set(token) <= set(BASE62 + "-_")


@pytest.mark.parametrize(
    "garbage",
    [
        "%%%",
        "abc",
        base64.urlsafe_b64encode(b"le_0193a1b2c3d4").decode(),
        base64.urlsafe_b64encode(b"lm1:").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
        encode_page_token("le_1") + "!",
    ],
)
def test_a_garbage_page_token_is_invalid_argument(garbage: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        decode_page_token(garbage)
    assert caught.value.reason == "INVALID_PAGE_TOKEN"
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_page_size_defaults_and_caps() -> None:
    assert page_size(0) == 20
    assert page_size(7) == 7
    assert page_size(100) == 100
    assert page_size(101) == 100
    assert page_size(10_000) == 100
    assert page_size(0, default=50, maximum=500) == 50
    assert page_size(1000, default=50, maximum=500) == 500


def test_a_negative_page_size_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument) as caught:
        page_size(-1)
    assert caught.value.reason == "INVALID_PAGE_SIZE"


def test_errors_carry_a_stable_reason_and_a_human_message() -> None:
    error = FailedPrecondition("no credits", reason="INSUFFICIENT_CREDITS", metadata={"account": "ac_1"})
    assert str(error) == "no credits"
    assert error.reason == "INSUFFICIENT_CREDITS"
    assert error.metadata == {"account": "ac_1"}
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert isinstance(error, LeadmeshError)
    assert NotFound("no such lead").reason == "NOT_FOUND"
    assert LeadmeshError("boom").code == grpc.StatusCode.INTERNAL
