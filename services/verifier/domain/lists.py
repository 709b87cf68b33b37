"""Disposable domains (the ``disposable-email-domains`` package), role accounts (a list kept in
``data/``) and free mail providers (the list of ``libs.normalize``), each loaded once."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources

from disposable_email_domains import blocklist

from libs.normalize import is_free_email_domain

__all__ = ["AddressLists", "address_lists"]

_SEPARATORS = re.compile(r"[.\-_]")


def _role_key(local_part: str) -> str:
    """``No-Reply+news`` -> ``noreply``: case, sub-address and separators do not make a person."""
    return _SEPARATORS.sub("", local_part.lower().split("+", 1)[0])


def _read(name: str) -> frozenset[str]:
    text = resources.files("services.verifier.domain").joinpath("data", name).read_text("utf-8")
    entries = (line.split("#", 1)[0].strip().lower() for line in text.splitlines())
    return frozenset(entry for entry in entries if entry)


def _parents(domain: str) -> list[str]:
    """``a.b.example.com`` -> itself and every parent down to the registrable-looking ``example.com``."""
    labels = domain.lower().rstrip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


@dataclass(frozen=True)
class AddressLists:
    disposable_domains: frozenset[str]
    role_accounts: frozenset[str]

    def is_disposable(self, domain: str) -> bool:
        """The domain or one of its parents is a known disposable-mail domain."""
        return any(candidate in self.disposable_domains for candidate in _parents(domain))

    def is_free_provider(self, domain: str) -> bool:
        return is_free_email_domain(domain)

    def is_role_account(self, local_part: str) -> bool:
        return _role_key(local_part) in self.role_accounts

    def with_disposable(self, domains: Iterable[str]) -> AddressLists:
        """These lists with ``domains`` counted as disposable too."""
        extra = {domain.strip().lower().rstrip(".") for domain in domains if domain.strip()}
        return replace(self, disposable_domains=self.disposable_domains | extra) if extra else self


@cache
def address_lists() -> AddressLists:
    return AddressLists(
        disposable_domains=frozenset(blocklist),
        role_accounts=frozenset(_role_key(entry) for entry in _read("role_accounts.txt")),
    )
