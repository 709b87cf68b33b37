"""Domains and email addresses: the registered domain behind a URL, host or address, and
whether what a company field holds is a domain or a name.

``tldextract`` runs on the public suffix list bundled with the package: it is built with no
suffix-list URLs and no cache directory, so it never touches the network or the disk.
"""

from __future__ import annotations

import re
from functools import lru_cache

import tldextract

from libs.normalize._tables import read_lines

__all__ = [
    "RESERVED_TLDS",
    "as_company_domain",
    "company_domain_from_email",
    "email_domain",
    "host_name",
    "is_free_email_domain",
    "normalize_domain",
    "normalize_email",
]

_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)
_FREE_PROVIDERS = frozenset(read_lines("free_email_providers.txt"))

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_IP_ADDRESS = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$|:")
_DISPLAY_NAME = re.compile(r"<([^<>]+)>")
_URL_TAIL = re.compile(r"[/?#]")
# Top-level names reserved for documentation and testing (RFC 2606, RFC 6761): in no public suffix
# list, never delegated on the internet, and what demo and test data use (``northwind.example``).
# They are domains like any other here; only the demo world (``leadmesh up --demo``) answers for
# them.
RESERVED_TLDS = frozenset({"example", "test"})
# RFC 1123 host-name syntax: dot-separated labels of ASCII letters, digits and inner hyphens, the
# last one letters only.
_HOST_NAME = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}$")


@lru_cache(maxsize=65536)
def normalize_domain(value: str) -> str | None:
    """The registered domain of a URL, host name or email domain, lower-case, or None.

    ``https://www.Acme.co.uk/about`` and ``mail.acme.co.uk`` are both ``acme.co.uk``. IP
    addresses, single labels (``localhost``) and unknown suffixes are not company domains.
    """
    text = value.strip().lower()
    if not text:
        return None
    text = _SCHEME.sub("", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    text = text.rsplit("@", 1)[-1].split(":", 1)[0].strip(".")
    if not text or _IP_ADDRESS.search(text) or " " in text:
        return None
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    parts = _EXTRACT(text)
    if not parts.domain or not parts.suffix:
        labels = text.split(".")
        reserved = len(labels) >= 2 and labels[-1] in RESERVED_TLDS and all(labels[-2:])
        return ".".join(labels[-2:]) if reserved else None
    return parts.top_domain_under_public_suffix


def host_name(value: str) -> str | None:
    """The host a URL or host name names, lower-case, without ``www.``, port or path
    (``https://www.Acme.com:443/about`` is ``acme.com``), or None when it is not host-name syntax
    (``J.Crew`` is, ``Yahoo!``, ``St. John`` and ``1.2.3.4`` are not)."""
    host = _SCHEME.sub("", value.strip())
    host = _URL_TAIL.split(host, maxsplit=1)[0].rsplit("@", 1)[-1].split(":", 1)[0].strip(".").lower()
    host = host.removeprefix("www.")
    return host if _HOST_NAME.match(host) else None


def as_company_domain(value: str) -> str | None:
    """The domain a company field holds when it holds a domain rather than a name, else None.

    A domain is written without spaces, in host-name syntax (a URL or ``www.`` is reduced to its
    host), and ends in a known public suffix (the bundled list) or a reserved test name:
    ``acme.com``, ``Booking.com``, ``https://www.acme.co.uk/about`` and ``northwind.example`` are
    domains; ``J.Crew`` (there is no ``.crew``), ``Yahoo!``, ``Acme Inc.``, ``A.B. Dick`` and IP
    addresses are names.
    """
    if " " in value.strip():
        return None
    host = host_name(value)
    return host if host is not None and normalize_domain(host) is not None else None


@lru_cache(maxsize=65536)
def normalize_email(value: str) -> str | None:
    """An address in one lower-case form (``"Jane Doe" <Jane@Acme.COM>`` is ``jane@acme.com``),
    or None when it is not an address. Sub-addresses and dots are kept: they are part of it."""
    text = value.strip()
    named = _DISPLAY_NAME.search(text)
    if named:
        text = named.group(1)
    text = text.strip().removeprefix("mailto:").strip().lower()
    if text.count("@") != 1:
        return None
    local, host = text.split("@")
    if not local or len(local) > 64 or not _LOCAL_PART.match(local):
        return None
    if normalize_domain(host) is None or any(not label for label in host.split(".")):
        return None
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return f"{local}@{host}"


def email_domain(email: str) -> str | None:
    """The registered domain of an address (``jane@mail.acme.com`` -> ``acme.com``)."""
    normalized = normalize_email(email)
    return None if normalized is None else normalize_domain(normalized.rsplit("@", 1)[1])


def is_free_email_domain(domain: str) -> bool:
    """Whether a domain is a consumer mailbox provider (gmail.com, yahoo.co.uk, ...)."""
    registered = normalize_domain(domain)
    return registered is not None and registered in _FREE_PROVIDERS


def company_domain_from_email(email: str) -> str | None:
    """The employer's domain an address implies: its registered domain unless a free provider."""
    domain = email_domain(email)
    return None if domain is None or domain in _FREE_PROVIDERS else domain
