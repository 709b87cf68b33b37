"""A homepage is decoded in a charset we allow (else as UTF-8), off the event loop, and whatever it
names, its outcome is stored: a page naming ``punycode`` (quadratic to decode) or ``idna`` (which
raises) is read as UTF-8, answers within the call and is not fetched again on the next request.
A homepage in stacked encodings is a stored failure, not a gigabyte in memory."""

from __future__ import annotations

import gzip
import random

import pytest

from leadmesh.common.v1 import common_pb2
from leadmesh.intent.v1 import intent_service_pb2 as pb
from services.intent.sources.homepage import _charset
from tests.services.intent.conftest import Intent
from tests.services.intent.web import Page, Web

TECHNOLOGY = common_pb2.INTENT_CATEGORY_TECHNOLOGY
# 800 KB of letters and digits and no "-": CPython's punycode codec takes half a minute on it
# (quadratic), on the event loop before the fix.
BODY = "".join(random.Random(19).choices("abcdefghijklmnopqrstuvwxyz0123456789", k=800_000))


@pytest.mark.parametrize("charset", ["punycode", "idna"])
async def test_a_page_in_a_charset_we_do_not_allow_is_read_as_utf8_and_stored(
    intent: Intent, web: Web, charset: str
) -> None:
    domain = f"{charset}.com"
    headers = {"Content-Type": f"text/html; charset={charset}", "X-Shopify-Stage": "production"}
    web.pages[f"/sites/{charset}/"] = Page.html(BODY, headers=headers)
    request = pb.GetSignalsRequest(company_domain=domain, categories=[TECHNOLOGY])
    response = await intent.stub.GetSignals(request, timeout=10)
    assert list(response.company.pending_sources) == []
    assert "adopted_shopify" in {s.name for s in response.company.signals}
    stored = await intent.db["intent_companies"].find_one({"_id": domain})
    assert stored is not None
    assert stored["technology"]["status"] == "ok"
    await intent.stub.GetSignals(request, timeout=10)
    assert web.hits_of(f"/sites/{charset}/") == 1  # the stored outcome answers the second call


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        ("text/html; charset=UTF-8", "utf-8"),
        ("text/html; charset=us-ascii", "ascii"),
        ("text/html; charset=latin-1", "iso8859-1"),
        ('text/html; charset="windows-1252"', "cp1252"),
        ("text/html; charset=Shift_JIS", "shift_jis"),
        ("text/html; charset=utf-7", "utf-8"),
        ("text/html; charset=rot13", "utf-8"),
        ("text/html; charset=no-such-thing", "utf-8"),
        ("text/html", "utf-8"),
    ],
)
def test_only_web_charsets_are_honoured(content_type: str, charset: str) -> None:
    assert _charset(content_type) == charset


async def test_a_homepage_in_stacked_encodings_is_a_stored_failure(intent: Intent, web: Web) -> None:
    bomb = gzip.compress(gzip.compress(bytes(64 * 1024 * 1024)))
    headers = {"Content-Type": "text/html", "Content-Encoding": "gzip, gzip"}
    web.pages["/sites/idna/"] = Page("200 OK", headers, bomb)
    request = pb.GetSignalsRequest(company_domain="idna.com", categories=[TECHNOLOGY])
    response = await intent.stub.GetSignals(request, timeout=10)
    assert list(response.company.signals) == []
    stored = await intent.db["intent_companies"].find_one({"_id": "idna.com"})
    assert stored is not None and stored["technology"]["status"] == "failed"
    assert stored["technology"]["error"].startswith("bad_response:")
    assert "stacked encodings" in stored["technology"]["error"]
