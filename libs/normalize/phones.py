"""Phone numbers in E.164 (``+16505550173``), through Google's libphonenumber rules."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

__all__ = ["normalize_phone"]


@lru_cache(maxsize=65536)
def normalize_phone(raw: str, default_region: str = "US") -> str | None:
    """The E.164 form of a number written any usual way, or None when it is not a valid number.

    ``default_region`` (ISO 3166-1 alpha-2) reads numbers written without a country code;
    extensions are dropped.
    """
    text = raw.strip()
    if not text or sum(ch.isdigit() for ch in text) < 4:
        return None
    try:
        number = phonenumbers.parse(text, default_region.upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    number.extension = None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
