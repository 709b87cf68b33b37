"""How a verification runs: the caller's options and the verifier's policy."""

from __future__ import annotations

from dataclasses import dataclass

from services.verifier.domain.verdicts import RetryHints

__all__ = ["VerificationPolicy", "VerifyOptions"]


@dataclass(frozen=True)
class VerifyOptions:
    skip_smtp: bool = False
    # Ignore cached verdicts and domain findings (the fresh ones are cached).
    refresh: bool = False


@dataclass(frozen=True)
class VerificationPolicy:
    smtp_enabled: bool
    recipients_per_session: int
    batch_concurrency: int
    greylist_backoff: float
    greylist_retries: int
    hints: RetryHints
    # Budget of a Verify whose caller set no deadline, in seconds.
    verify_timeout: float
    # Seconds one attempt at a domain's SMTP probes may take (0: the call's deadline only): a
    # tarpitting server does not hold a batch; its addresses are unknown, to retry later.
    domain_budget: float = 0.0
