"""The Python client of the leadmesh API.

    from leadmesh_client import Leadmesh

    client = Leadmesh()  # LEADMESH_API_KEY, LEADMESH_BASE_URL
    result = client.enrich.lead(email="jane@acme.com")
    print(result["lead"]["title"], result.lead.icp_score)

``AsyncLeadmesh`` has the same surface for asyncio. Errors are ``LeadmeshError`` subclasses, one
per kind; ``leadmesh_client.webhooks.verify`` checks a webhook's signature.
"""

from __future__ import annotations

from leadmesh_client import webhooks
from leadmesh_client._answer import (
    Answer,
    Credits,
    CsvRowResult,
    EnrichmentResult,
    IcpProfile,
    Job,
    Lead,
    LedgerEntry,
    SignalsResult,
    WebhookSecret,
)
from leadmesh_client._async import AsyncLeadmesh
from leadmesh_client._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    InsufficientCreditsError,
    InvalidRequestError,
    LeadmeshError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from leadmesh_client._plans import CsvResult
from leadmesh_client._sync import Leadmesh
from leadmesh_client._version import __version__

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Answer",
    "AsyncLeadmesh",
    "AuthenticationError",
    "ConflictError",
    "Credits",
    "CsvResult",
    "CsvRowResult",
    "EnrichmentResult",
    "IcpProfile",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "Job",
    "Lead",
    "Leadmesh",
    "LedgerEntry",
    "LeadmeshError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "SignalsResult",
    "WebhookSecret",
    "__version__",
    "webhooks",
]
