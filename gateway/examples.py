"""Request and response examples of every endpoint, for the OpenAPI document (and /docs).

The seed's own examples are among them, completed with the fields we add beside the seed's
(``tests/gateway/test_openapi.py`` holds every example to its route's models).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CREDITS",
    "CSV_ANSWER",
    "CSV_FILE",
    "CSV_JOB",
    "CSV_RESULT",
    "CSV_ROW_ANSWERS",
    "CSV_ROW_REQUESTS",
    "CSV_UPLOAD",
    "EVENTS_ANSWER",
    "EVENTS_REQUESTS",
    "HEALTH",
    "ICP_ANSWER",
    "ICP_PROFILE",
    "ICP_PROFILE_IN",
    "ICP_VERSIONS",
    "JOB_ISSUES",
    "LEAD_ANSWERS",
    "LEAD_REQUESTS",
    "WEBHOOK_SECRET",
    "json_example",
    "json_examples",
]


def json_examples(examples: dict[str, dict[str, Any]], description: str = "") -> dict[str, Any]:
    """A 2xx entry of a route's ``responses``: named examples of its JSON body."""
    entry: dict[str, Any] = {"content": {"application/json": {"examples": examples}}}
    return {**entry, "description": description} if description else entry


def json_example(value: Any, description: str = "") -> dict[str, Any]:
    return json_examples({"example": {"value": value}}, description)


def _meta(**values: Any) -> dict[str, Any]:
    return {
        "credits_used": 1,
        "providers_queried": 15,
        "providers_matched": 6,
        "confidence": 0.92,
        "enriched_at": "2026-04-15T09:18:44Z",
        "icp_profile_version": 1,
        "degraded": [],
        "pending": [],
        "demo": False,
        **values,
    }


_EMPTY_LEAD: dict[str, Any] = {
    "email": None, "email_status": None, "first_name": None, "last_name": None, "title": None,
    "seniority": None, "company_name": None, "company_domain": None, "company_size": None,
    "company_industry": None, "company_revenue": None, "phone": None, "linkedin_url": None,
    "icp_score": None, "icp_tier": None, "icp_signals": [], "icp_breakdown": [], "intent_signals": [],
    "intent_signal_details": [],
}  # fmt: skip

_TECHFLOW = {
    "company_name": "TechFlow",
    "company_domain": "techflow.io",
    "company_size": "51-200",
    "company_industry": "SaaS",
    "company_revenue": "$10M-$25M",
    "intent_signals": ["hiring_sales_ops", "evaluated_competitor"],
    "intent_signal_details": [
        {
            "name": "hiring_sales_ops",
            "category": "hiring",
            "strength": 82,
            "observed_at": "2026-04-13T00:00:00Z",
            "source": "greenhouse",
            "evidence": ["Sales Operations Manager", "Revenue Operations Analyst"],
        },
        {
            "name": "evaluated_competitor",
            "category": "technology",
            "strength": 64,
            "observed_at": "2026-04-02T00:00:00Z",
            "source": "homepage",
            "evidence": ["salesloft"],
        },
    ],
}

# The seed's answer, with the fields we add beside its own.
_SEED_LEAD = {
    **_EMPTY_LEAD,
    **_TECHFLOW,
    "email": "mike.chen@techflow.io",
    "email_status": "valid",
    "first_name": "Mike",
    "last_name": "Chen",
    "title": "Director of Revenue Operations",
    "seniority": "director",
    "linkedin_url": "https://www.linkedin.com/in/mikechen",
    "icp_score": 87,
    "icp_tier": "high_priority",
    "icp_signals": ["target_seniority", "target_department", "company_size_fit", "industry_match"],
    "icp_breakdown": [
        {"name": "target_seniority", "points": 35, "detail": "director"},
        {"name": "target_department", "points": 20, "detail": "revenue_operations"},
        {"name": "company_size_fit", "points": 22, "detail": "51-200"},
        {"name": "industry_match", "points": 10, "detail": "SaaS"},
    ],
}

LEAD_REQUESTS: dict[str, dict[str, Any]] = {
    "email": {"summary": "By email (the seed's example)", "value": {"email": "jane@acme.com"}},
    "name_and_company": {
        "summary": "By name and company (name or domain)",
        "value": {"first_name": "Mike", "last_name": "Chen", "company": "TechFlow"},
    },
    "company_only": {
        "summary": "A company alone: its best-fit contacts",
        "value": {"domain": "techflow.io", "max_contacts": 3},
    },
    "linkedin": {
        "summary": "By LinkedIn profile",
        "value": {"linkedin_url": "https://www.linkedin.com/in/mikechen"},
    },
    "with_phone": {
        "summary": "With the phone number (11 credits)",
        "value": {"email": "mike.chen@techflow.io", "fields": ["person", "company", "email", "phone"]},
    },
}

LEAD_ANSWERS: dict[str, dict[str, Any]] = {
    "completed": {
        "summary": "Enriched and scored (the seed's answer)",
        "value": {
            "id": "ev_l4m8np2",
            "status": "completed",
            "lead": _SEED_LEAD,
            "meta": _meta(credits_used=11),
            "livemode": True,
        },
    },
    "company_only": {
        "summary": "A company alone: the company, and its best-fit contacts by ICP score",
        "value": {
            "id": "ev_c9k2pq4",
            "status": "completed",
            "lead": {**_EMPTY_LEAD, **_TECHFLOW},
            "contacts": [_SEED_LEAD],
            "meta": _meta(),
            "livemode": True,
        },
    },
    "not_found": {
        "summary": "Nothing matched: free, every field null",
        "value": {
            "id": "ev_n0f0und",
            "status": "not_found",
            "lead": _EMPTY_LEAD,
            "meta": _meta(credits_used=0, providers_matched=0, confidence=0.0, icp_profile_version=None),
            "livemode": True,
        },
    },
    "test_key": {
        "summary": "A test key (`lm_test_...`): from the sandbox directory, free, livemode false",
        "value": {
            "id": "ev_t3st0k1",
            "status": "completed",
            "lead": {
                **_SEED_LEAD,
                "email": "aaron.franklin@hoffmanand.example",
                "first_name": "Aaron",
                "last_name": "Franklin",
                "company_name": "Hoffman and Sons",
                "company_domain": "hoffmanand.example",
            },
            "meta": _meta(credits_used=0, providers_queried=1, providers_matched=1),
            "livemode": False,
        },
    },
}

CSV_ROW_REQUESTS: dict[str, dict[str, Any]] = {
    "email": {"summary": "One row by email (the seed's example)", "value": {"email": "jane@acme.com"}},
    "row_of_a_file": {
        "summary": "Row 1 of a 500-row file, with phone and LinkedIn, and your own row reference",
        "value": {
            "email": "alex@startup.io",
            "name": "Alex Rivera",
            "row_number": 1,
            "total_rows": 500,
            "row_ref": "crm-0042",
            "fields": ["person", "company", "email", "phone", "linkedin"],
        },
    },
}

_CSV_META = {k: v for k, v in _meta().items() if k not in {"enriched_at", "icp_profile_version"}}
CSV_ROW_ANSWERS: dict[str, dict[str, Any]] = {
    "completed": {
        "summary": "Enriched (the seed's answer)",
        "value": {
            "id": "ev_b8v2mn6",
            "status": "completed",
            "csv_row": {
                "row_id": 1,
                "row_ref": "crm-0042",
                "input_email": "alex@startup.io",
                "input_name": "Alex Rivera",
                "enriched_email_status": "valid",
                "enriched_title": "CTO",
                "enriched_seniority": "c_level",
                "enriched_company": "Startup.io",
                "enriched_industry": "SaaS",
                "enriched_size": "11-50",
                "enriched_phone": "+16505550173",
                "enriched_linkedin": "https://www.linkedin.com/in/alexrivera",
                "icp_score": 72,
            },
            "meta": {
                **_CSV_META,
                "credits_used": 11,
                "providers_matched": 5,
                "confidence": 0.88,
                "row_number": 1,
                "total_rows": 500,
            },
            "livemode": True,
        },
    },
}

HEALTH = {
    "status": "ok",
    "dependencies": {
        "billing": "SERVING",
        "scoring": "SERVING",
        "intent": "SERVING",
        "enrichment": "SERVING",
    },
    "demo": False,
}

CREDITS = {
    "balance": 289,
    "reserved": 0,
    "free_tier": {
        "monthly_credits": 30,
        "current_period": "2026-04",
        "granted_this_period": True,
        "next_grant_at": "2026-05-01T00:00:00Z",
    },
    "ledger": [
        {
            "id": "le_7q2w9e1",
            "type": "charge",
            "amount": -11,
            "balance_after": 289,
            "description": "enrichment ev_l4m8np2",
            "idempotency_key": "key:order-4711",
            "reservation_id": None,
            "created_at": "2026-04-15T09:18:44Z",
        }
    ],
    "next_page_token": None,
    "livemode": True,
}

ICP_PROFILE_IN: dict[str, Any] = {
    "seniorities": {"values": ["director", "vp", "c_level"], "weight": 35},
    "departments": {"values": ["sales", "revenue_operations"], "weight": 20},
    "title_keywords": {"values": [], "weight": 0},
    "company_sizes": {"values": ["51-200", "201-500"], "weight": 25},
    "industries": {"values": ["SaaS"], "weight": 10},
    "revenues": {"values": ["$10M-$25M", "$25M-$50M"], "weight": 10},
    "countries": {"values": [], "weight": 0},
    "technologies": {"values": [], "weight": 0},
    "competitors": ["salesloft.com"],
    "exclusions": {
        "industries": [],
        "title_keywords": ["intern", "student"],
        "seniorities": [],
        "company_domains": [],
        "countries": [],
        "penalty": 100,
    },
    "tiers": {"high_priority": 80, "nurture": 50},
    "intent_boost_max": 15,
}
ICP_PROFILE = {**ICP_PROFILE_IN, "version": 2, "is_default": False, "created_at": "2026-04-01T08:00:00Z"}
ICP_ANSWER = {**ICP_PROFILE, "livemode": True}
ICP_VERSIONS = {"versions": [ICP_PROFILE], "next_page_token": None, "livemode": True}

EVENTS_REQUESTS = {
    "events": {
        "summary": "A pricing page view and a demo request",
        "value": {
            "events": [
                {
                    "email": "jane@acme.com",
                    "type": "pricing_page_view",
                    "occurred_at": "2026-04-14T10:00:00Z",
                },
                {"domain": "acme.com", "type": "demo_request", "url": "https://yoursite.com/demo"},
            ]
        },
    }
}
EVENTS_ANSWER = {
    "accepted": 1,
    "rejected": [{"index": 1, "reason": "unknown_type", "message": "..."}],
    "livemode": True,
}

CSV_FILE = "email,first_name,last_name,company\njane@acme.com,Jane,Doe,Acme\n,Mike,Chen,techflow.io\n"
CSV_RESULT = (
    "email,first_name,last_name,company,row_id,status,enriched_email_status,enriched_title,"
    "enriched_seniority,enriched_company,enriched_domain,enriched_industry,enriched_size,"
    "enriched_revenue,enriched_phone,enriched_linkedin,icp_score,icp_tier,icp_signals,intent_signals\n"
    "jane@acme.com,Jane,Doe,Acme,1,not_found,,,,,,,,,,,,,,\n"
    ",Mike,Chen,techflow.io,2,enriched,valid,Director of Revenue Operations,director,TechFlow,"
    "techflow.io,SaaS,51-200,$10M-$25M,,,87,high_priority,target_seniority; company_size_fit,"
    "hiring_sales_ops\n"
)
CSV_JOB = {
    "id": "job_5h2k8d1",
    "status": "running",
    "file_name": "leads.csv",
    "total_rows": 25000,
    "counts": {"enriched": 9120, "not_found": 860, "invalid_input": 20, "failed": 0, "pending": 15000},
    "progress": 0.4,
    "credits_used": 9120,
    "credits_reserved": 15880,
    "mapping": {"email": "Email", "first_name": "First Name", "company_name": "Company"},
    "fields": [],
    "skip_icp": False,
    "escape_formulas": True,
    "webhook_url": "https://example.com/hooks/leadmesh",
    "created_at": "2026-04-15T09:00:00Z",
    "started_at": "2026-04-15T09:00:01Z",
    "completed_at": None,
    "error": None,
    "result_url": "/v1/jobs/job_5h2k8d1/result.csv",
    "livemode": True,
}

WEBHOOK_SECRET = {
    "secret": "whsec_3f9a...",
    "header": "Leadmesh-Signature",
    "scheme": "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, '<t>.' + body)>",
    "livemode": True,
}

JOB_ISSUES = {"row_issues": [{"row": 7, "line": 8, "reason": "no usable identifier"}]}
# The body of POST /v1/enrich/csv, which the route reads itself (streamed).
CSV_UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}, "example": CSV_FILE},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The CSV, UTF-8"},
                        "fields": {"type": "string", "description": "e.g. person,phone"},
                        "skip_icp": {"type": "boolean"},
                        "escape_formulas": {
                            "type": "boolean",
                            "default": True,
                            "description": "false keeps cells like =, +, -, @ as they are (CRM re-import); "
                            "a spreadsheet opening the result may then run them",
                        },
                        "webhook_url": {"type": "string"},
                        "mapping": {"type": "string", "description": "JSON: input field -> column"},
                    },
                },
                "example": {"file": CSV_FILE, "fields": "person,company,email"},
            },
        },
    }
}
CSV_ANSWER = {"content": {"text/csv": {"example": CSV_RESULT}}}


SUPPRESSIONS_REQUESTS = {
    "both": {
        "summary": "Addresses and whole companies",
        "value": {"emails": ["jane@acme.com"], "domains": ["globex.com"]},
    },
}
_SUPPRESSIONS = [
    {
        "id": "sup_0193a1b2c3d4Xy7Qa9Lm2P",
        "type": "email",
        "value": "***@acme.com",
        "created_at": "2026-11-20T10:00:00Z",
    },
    {
        "id": "sup_0193a1b2c3d5Pq2Wz8Rt4K",
        "type": "domain",
        "value": "globex.com",
        "created_at": "2026-11-20T10:00:00Z",
    },
]
SUPPRESSIONS_ADDED = {"data": _SUPPRESSIONS, "added": 2}
SUPPRESSION_LIST = {"data": _SUPPRESSIONS, "next_page_token": None}
