"""A job's ending is told (event and webhook) until that succeeds, exactly once after it does."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from libs.mongo import Document, utc_now
from services.batch.repository import JobRepository, chunk_key
from services.batch.settings import BatchSettings
from services.batch.worker import ChunkWorker


async def test_a_failed_notice_is_sent_again_and_a_sent_one_is_not(db: AsyncDatabase[Document]) -> None:
    repository = JobRepository(db)
    job_id = "job_notice_1"
    await repository.insert_job(
        {
            "_id": job_id,
            "account_id": "acct_1",
            "state": "running",
            "finalized": False,
            "chunks": 1,
            "total_rows": 1,
            "reservation_id": "",  # nothing held: finishing calls no billing
            "create_time": utc_now(),
        }
    )
    await repository.chunk_done(
        job_id, 0, {"enriched": 1, "not_found": 0, "invalid_input": 0, "failed": 0}, 1
    )
    assert await db["batch_chunks"].find_one({"_id": chunk_key(job_id, 0)}) is not None
    told: list[str] = []

    async def on_finished(job: Document) -> None:
        told.append(job["state"])
        if len(told) == 1:
            raise ConnectionError("the broker went away")

    worker = ChunkWorker(repository, None, None, BatchSettings(), on_finished)  # type: ignore[arg-type]
    try:
        await worker.finish_if_done(job_id)
    except ConnectionError:
        pass
    else:
        raise AssertionError("the first notice was meant to fail")
    finished = await repository.job(job_id)
    assert finished is not None and finished["finalized"] and not finished["notified"]
    await worker.finish_if_done(job_id)  # a retry of the chunk, or the dead-letter handler
    await worker.finish_if_done(job_id)  # anything later
    assert told == ["succeeded", "succeeded"]
    finished = await repository.job(job_id)
    assert finished is not None and finished["notified"] and finished["credits_used"] == 1
