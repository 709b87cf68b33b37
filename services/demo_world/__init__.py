"""The demo world: loopback DNS, SMTP and web servers for the demo directory's ``.example``
domains, so that ``leadmesh up --demo`` shows what the product does (every email verdict kind,
hiring and technology intent signals) without reaching any real server.

The servers themselves (:class:`LoopbackDns`, :class:`MailServer` and its behaviours,
:class:`Web`) are general: the tests and benchmarks build their own worlds with them.
"""

from services.demo_world.dns import LoopbackDns, Records
from services.demo_world.mail import (
    ByDomain,
    CatchAll,
    Greylist,
    KnownMailboxes,
    MailBehaviour,
    MailboxFull,
    MailServer,
    Probe,
    SessionStats,
)
from services.demo_world.web import Page, Web
from services.demo_world.world import (
    MAX_COMPANIES,
    MX_HOST,
    VERDICT_KINDS,
    DemoWorld,
    MailPlan,
    loopback_host,
)

__all__ = [
    "MAX_COMPANIES",
    "MX_HOST",
    "VERDICT_KINDS",
    "ByDomain",
    "CatchAll",
    "DemoWorld",
    "Greylist",
    "KnownMailboxes",
    "LoopbackDns",
    "MailBehaviour",
    "MailPlan",
    "MailServer",
    "MailboxFull",
    "Page",
    "Probe",
    "Records",
    "SessionStats",
    "Web",
    "loopback_host",
]
