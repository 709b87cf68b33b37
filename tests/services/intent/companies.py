"""The companies the intent tests know: their job boards and homepages on the loopback site."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.services.intent.web import Page, Web

ACME_HOME = """<!doctype html><html><head>
<meta name="generator" content="WordPress 6.4.2">
<script async src="https://js.hs-scripts.com/123456.js"></script>
<script src="https://www.googletagmanager.com/gtm.js?id=GTM-ABC123"></script>
</head><body>Acme</body></html>"""

GLOBEX_HOME = """<html><head>
<script src="https://cdn.segment.com/analytics.js/v1/abc/analytics.min.js"></script>
<script src="https://js.driftt.com/include/1/abc.js"></script>
</head><body>Globex</body></html>"""

# Homepage URL of each test company (the service's override setting).
HOMEPAGES = {
    "acme.com": "/sites/acme/",
    "globex.com": "/sites/globex/",
    "initech.com": "/sites/initech/",
    "slowco.com": "/sites/slowco/",
    "loopback-redirect.com": "/sites/to-loopback/",
    "metadata-redirect.com": "/sites/to-metadata/",
    "punycode.com": "/sites/punycode/",  # the charset tests serve these two
    "idna.com": "/sites/idna/",
}


def iso(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(timespec="seconds")


def millis(days_ago: float) -> int:
    return int((datetime.now(UTC) - timedelta(days=days_ago)).timestamp() * 1000)


def greenhouse_job(title: str, days_ago: float, department: str = "") -> dict[str, object]:
    return {
        "id": abs(hash(title)) % 10_000_000,
        "title": title,
        "updated_at": iso(days_ago),
        "location": {"name": "Remote"},
        "absolute_url": f"https://boards.example/acme/jobs/{abs(hash(title)) % 1000}",
        "departments": [{"name": department}] if department else [],
        "content": "&lt;p&gt;Join us&lt;/p&gt;",
    }


def lever_posting(title: str, days_ago: float, team: str = "") -> dict[str, object]:
    return {
        "id": f"lever-{abs(hash(title)) % 1000}",
        "text": title,
        "createdAt": millis(days_ago),
        "categories": {"team": team, "location": "Berlin", "commitment": "Full-time"},
        "hostedUrl": f"https://jobs.example/globex/{abs(hash(title)) % 1000}",
    }


def install(web: Web) -> dict[str, str]:
    """Serves every test company's pages; returns the homepage overrides for the settings."""
    web.pages["/greenhouse/v1/boards/acme/jobs?content=true"] = Page.json(
        {
            "jobs": [
                greenhouse_job("Sales Operations Manager", 2),
                greenhouse_job("Revenue Operations Analyst", 9),
                greenhouse_job("Account Executive", 4),
                greenhouse_job("Senior Software Engineer", 20),
            ],
            "meta": {"total": 4},
        }
    )
    web.pages["/lever/v0/postings/globex?mode=json"] = Page.json(
        [lever_posting("Demand Generation Manager", 3), lever_posting("Account Manager", 6, team="Sales")]
    )
    web.pages["/greenhouse/v1/boards/initech/jobs?content=true"] = Page.json(
        {"error": "boom"}, "500 Server Error"
    )
    web.pages["/sites/acme/"] = Page.html(ACME_HOME, cookies=["hubspotutk=abc; Path=/"])
    web.pages["/sites/globex/"] = Page.html(GLOBEX_HOME, headers={"X-Shopify-Stage": "production"})
    web.pages["/sites/initech/"] = Page.html("<html>Initech</html>")
    web.pages["/sites/slowco/"] = Page.html(ACME_HOME, delay=1.5)
    web.pages["/sites/to-loopback/"] = Page.redirect(f"http://127.0.0.1:{web.port}/sites/acme/")
    web.pages["/sites/to-metadata/"] = Page.redirect("http://169.254.169.254/latest/meta-data/")
    return {domain: web.url(path) for domain, path in HOMEPAGES.items()}
