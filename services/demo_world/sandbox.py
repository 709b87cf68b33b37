"""The sandbox an ``lm_test_`` key enriches against: the demo directory of ``leadmesh up --demo``
(same seed and counts, every domain under ``.example``) and its world's mail plan, held in memory.

Providers, the verifier and intent answer a test-mode call from these (their ``sandbox`` modules)
without any I/O: no vendor, DNS server, mail server or website is contacted. The directory is built
once per process, on the first test-mode call (about half a second), and is the same in every
process and on every run.
"""

from __future__ import annotations

import asyncio
import functools

from services.demo_world.world import MailPlan, verdict_examples
from services.providers.demo import DemoDirectory, demo_directory

__all__ = ["SANDBOX_COMPANIES", "SANDBOX_PEOPLE", "SANDBOX_SEED", "Sandbox", "sandbox", "sandbox_world"]

SANDBOX_SEED = 4242
SANDBOX_COMPANIES = 200
SANDBOX_PEOPLE = 2000


class Sandbox:
    """The sandbox directory, the mail plan of its world, and one address per verdict kind."""

    def __init__(self, directory: DemoDirectory):
        self.directory = directory
        self.plan = MailPlan.of(directory)
        self.examples = verdict_examples(directory, self.plan)


@functools.cache
def sandbox_world() -> Sandbox:
    """The sandbox (built once per process, in about half a second)."""
    return Sandbox(demo_directory(SANDBOX_SEED, SANDBOX_COMPANIES, SANDBOX_PEOPLE))


async def sandbox() -> Sandbox:
    """The sandbox, built off the event loop the first time."""
    if sandbox_world.cache_info().currsize:
        return sandbox_world()
    return await asyncio.to_thread(sandbox_world)
