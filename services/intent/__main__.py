"""``python -m services.intent``: the intent service, run by the kit's runner (libs/runner.py),
with the weekly refresh worker unless ``LEADMESH_INTENT_WORKER=false``."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document
from libs.runner import run
from libs.service import Service
from services.intent.app import create_server
from services.intent.settings import IntentSettings


async def build(db: AsyncDatabase[Document], settings: IntentSettings) -> Service:
    amqp_url = settings.amqp_url if settings.intent_worker else None
    return await create_server(db, settings, settings.intent_addr, amqp_url=amqp_url)


def main() -> None:
    run("intent", IntentSettings, build)


if __name__ == "__main__":
    main()
