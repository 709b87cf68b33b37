"""``leadmesh worker batch``: a worker process that consumes the chunk queue until SIGTERM, then
leaves it (its consumer gone) and exits cleanly."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys

from pymongo.asynchronous.database import AsyncDatabase

from libs import amqp
from libs.mongo import Document
from tests.waiting import eventually


async def consumers_of(amqp_url: str, queue: str) -> int:
    connection = await amqp.connect(amqp_url)
    try:
        channel = await connection.channel()
        underlay = await channel.get_underlay_channel()
        try:
            declared = await underlay.queue_declare(queue, passive=True)
        except Exception:  # not declared yet: nobody consumes it
            return 0
        return int(declared.consumer_count or 0)
    finally:
        await connection.close()


async def test_leadmesh_worker_batch_consumes_the_chunk_queue_and_stops_on_sigterm(
    db: AsyncDatabase[Document], mongo_uri: str, amqp_url: str
) -> None:
    command = shutil.which("leadmesh", path=os.path.dirname(sys.executable))
    assert command, "the leadmesh console script is installed next to the interpreter"
    env = {
        **os.environ,
        "LEADMESH_MONGODB_URI": mongo_uri,
        "LEADMESH_MONGODB_DATABASE": db.name,
        "LEADMESH_AMQP_URL": amqp_url,
        "LEADMESH_LOG_LEVEL": "WARNING",
        "LEADMESH_WEBHOOK_SECRET": "worker-test-master-secret-0123456789abcdef",
    }
    process = subprocess.Popen([command, "worker", "batch"], env=env)
    try:
        queues = ("batch.chunks", "batch.chunks.dead", "batch.webhooks")
        unconsumed = list(queues)

        async def consuming() -> bool:  # it consumes one after the other as it starts
            assert process.poll() is None, f"the worker exited with {process.returncode}"
            unconsumed[:] = [queue for queue in queues if await consumers_of(amqp_url, queue) < 1]
            return not unconsumed

        await eventually(consuming, within=20, interval=0.1, explain=lambda: f"not consumed: {unconsumed}")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
        assert await consumers_of(amqp_url, "batch.chunks") == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
