"""Jobs, their input rows, row results and finished chunks in the store.

``batch_jobs``     one document per job (``job_...`` ids sort by creation time).
``batch_requests`` ``<account>:<request id>`` -> job: a retried upload finds its first job.
``batch_rows``     ``<job>:<row>`` (row zero-padded, so a job's rows are one ``_id`` range):
                   the input cells, the physical line, and the lead or why the row is unusable.

Rows, results and chunks are read by their listed ids (``$in``), never by an ``_id`` range: both
are index reads on MongoDB, but the embedded store scans the whole collection for a range.
``batch_results``  same ``_id`` as the row: unique on (job, row), so a redelivered chunk never
                   writes a second result.
``batch_chunks``   ``<job>:<chunk>``: a chunk whose rows all have results, with its counts; the
                   job is finished when every chunk has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from libs.mongo import Document, IndexSpec, ensure_indexes, utc_now

__all__ = ["ACTIVE", "JobRepository", "row_key"]

ACTIVE = ("queued", "running")
_DUPLICATE_KEY = 11000


def row_key(job_id: str, row: int) -> str:
    return f"{job_id}:{row:07d}"


def chunk_key(job_id: str, chunk: int) -> str:
    return f"{job_id}:{chunk:05d}"


def _range(job_id: str) -> dict[str, Any]:
    return {"$gt": f"{job_id}:", "$lt": f"{job_id};"}


def _row_ids(job_id: str, first: int, count: int) -> dict[str, Any]:
    return {"$in": [row_key(job_id, row) for row in range(first, first + count)]}


def _mode(sandbox: bool) -> Any:
    """The query on a job's ``sandbox`` flag: test-mode jobs, or live ones (jobs stored before
    test mode have no flag and are live)."""
    return True if sandbox else {"$ne": True}


def _only_duplicates(error: BulkWriteError) -> bool:
    return all(e.get("code") == _DUPLICATE_KEY for e in error.details.get("writeErrors", []))


class JobRepository:
    def __init__(self, db: AsyncDatabase[Document]):
        self.jobs = db["batch_jobs"]
        self.requests = db["batch_requests"]
        self.rows = db["batch_rows"]
        self.results = db["batch_results"]
        self.chunks = db["batch_chunks"]
        self.chunk_errors = db["batch_chunk_errors"]

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self.jobs, [IndexSpec([("account_id", 1), ("create_time", -1)])])

    # jobs

    async def job_for_request(self, account_id: str, request_id: str) -> Document | None:
        found = await self.requests.find_one({"_id": f"{account_id}:{request_id}"})
        return None if found is None else await self.get_job(account_id, found["job_id"])

    async def claim_request(self, account_id: str, request_id: str, job_id: str) -> str:
        """The job of this upload's request id: ``job_id`` when it is the first, else the first's."""
        try:
            await self.requests.insert_one({"_id": f"{account_id}:{request_id}", "job_id": job_id})
        except DuplicateKeyError:
            found = await self.requests.find_one({"_id": f"{account_id}:{request_id}"})
            assert found is not None
            return str(found["job_id"])
        return job_id

    async def forget_request(self, account_id: str, request_id: str, job_id: str) -> None:
        await self.requests.delete_one({"_id": f"{account_id}:{request_id}", "job_id": job_id})

    async def active_jobs(self, account_id: str) -> int:
        """The account's jobs queued or running."""
        return await self.jobs.count_documents({"account_id": account_id, "state": {"$in": list(ACTIVE)}})

    async def insert_job(self, document: Document) -> None:
        await self.jobs.insert_one(document)

    async def get_job(self, account_id: str, job_id: str, sandbox: bool = False) -> Document | None:
        """The account's job of that id, if it is of the mode asked for (test or live)."""
        return await self.jobs.find_one({"_id": job_id, "account_id": account_id, "sandbox": _mode(sandbox)})

    async def job(self, job_id: str) -> Document | None:
        return await self.jobs.find_one({"_id": job_id})

    async def list_jobs(
        self, account_id: str, limit: int, before: str | None, sandbox: bool = False
    ) -> list[Document]:
        query: Document = {"account_id": account_id, "sandbox": _mode(sandbox)}
        if before:
            query["_id"] = {"$lt": before}
        cursor = self.jobs.find(query).sort("_id", -1).limit(limit)
        return [document async for document in cursor]

    async def update_job(
        self, job_id: str, fields: Document, *, states: Sequence[str] = ()
    ) -> Document | None:
        """Sets ``fields``; with ``states``, only while the job is in one of them."""
        query: Document = {"_id": job_id}
        if states:
            query["state"] = {"$in": list(states)}
        updated: Document | None = await self.jobs.find_one_and_update(
            query, {"$set": fields}, return_document=ReturnDocument.AFTER
        )
        return updated

    async def stalled_jobs(self, created_before: datetime) -> list[Document]:
        """Jobs stored but never queued (the broker failed the upload), older than ``created_before``."""
        cursor = self.jobs.find({"queued": False, "create_time": {"$lt": created_before}})
        return [document async for document in cursor]

    async def mark_running(self, job_id: str) -> None:
        await self.jobs.update_one(
            {"_id": job_id, "state": "queued"}, {"$set": {"state": "running", "start_time": utc_now()}}
        )

    async def finalize(self, job_id: str, fields: Document) -> bool:
        """Marks the job finished once; True for the one caller that did."""
        result = await self.jobs.update_one(
            {"_id": job_id, "finalized": False}, {"$set": {"finalized": True, **fields}}
        )
        return result.modified_count == 1

    async def purge_jobs(self, created_before: datetime) -> int:
        """Deletes the rows, results and chunks of the jobs made before ``created_before``
        (retention); their job documents stay, marked ``purged``, with their counts and credits.
        How many jobs."""
        cursor = self.jobs.find(
            {
                "create_time": {"$lt": created_before},
                "purged": {"$ne": True},
                "state": {"$nin": list(ACTIVE)},
            },
            {"_id": 1},
        )
        purged = 0
        async for job in cursor:
            for collection in (self.rows, self.results, self.chunks, self.chunk_errors):
                await collection.delete_many({"_id": _range(job["_id"])})
            await self.jobs.update_one(
                {"_id": job["_id"]}, {"$set": {"purged": True, "purge_time": utc_now()}}
            )
            purged += 1
        return purged

    async def delete_job(self, job_id: str) -> None:
        """Removes what an aborted upload wrote."""
        await self.rows.delete_many({"_id": _range(job_id)})
        await self.jobs.delete_one({"_id": job_id})

    # rows and results

    async def insert_rows(self, documents: list[Document]) -> None:
        await self._insert_once(self.rows, documents)

    async def rows_of(self, job_id: str, first: int, count: int) -> list[Document]:
        found = [document async for document in self.rows.find({"_id": _row_ids(job_id, first, count)})]
        return sorted(found, key=lambda document: str(document["_id"]))

    async def results_of(self, job_id: str, first: int, count: int) -> dict[str, Document]:
        cursor = self.results.find({"_id": _row_ids(job_id, first, count)})
        return {document["_id"]: document async for document in cursor}

    async def results_to_recheck(self, job_id: str) -> list[Document]:
        """The job's rows whose greylisted address was not checked again yet."""
        query = {"_id": _range(job_id), "recheck": {"$exists": True}, "rechecked": {"$exists": False}}
        return [document async for document in self.results.find(query)]

    async def rechecked(self, settled: dict[str, tuple[Document, str | None]]) -> None:
        """Marks rows checked again; a row given a status has it as its email status (first cell)."""
        for key, (row, status) in settled.items():
            update: Document = {"rechecked": True}
            if status:
                update["cells"] = [status, *list(row["cells"])[1:]]
            await self.results.update_one({"_id": key}, {"$set": update})

    async def insert_results(self, documents: list[Document]) -> bool:
        """True when every one was new; False when some row already had a result (which stands)."""
        return await self._insert_once(self.results, documents)

    async def _insert_once(self, collection: Any, documents: list[Document]) -> bool:
        """Inserts each document unless its ``_id`` exists (a redelivery); never a second copy.
        True when none existed."""
        if not documents:
            return True
        try:
            await collection.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            if not _only_duplicates(error):
                raise
            return False
        return True

    # chunks

    async def chunk_done(self, job_id: str, chunk: int, counts: dict[str, int], credits: int) -> None:
        await self._insert_once(
            self.chunks,
            [{"_id": chunk_key(job_id, chunk), "counts": counts, "credits": credits, "time": utc_now()}],
        )

    async def is_chunk_done(self, job_id: str, chunk: int) -> bool:
        return await self.chunks.find_one({"_id": chunk_key(job_id, chunk)}, {"_id": 1}) is not None

    async def chunks_of(self, job_id: str, count: int) -> list[Document]:
        """The finished chunks among the job's ``count``."""
        wanted = [chunk_key(job_id, chunk) for chunk in range(count)]
        return [document async for document in self.chunks.find({"_id": {"$in": wanted}})]

    async def record_chunk_error(self, job_id: str, chunk: int, message: str) -> None:
        await self.chunk_errors.update_one(
            {"_id": chunk_key(job_id, chunk)},
            {"$set": {"message": message[:500], "time": utc_now()}},
            upsert=True,
        )

    async def chunk_error(self, job_id: str, chunk: int) -> str | None:
        found = await self.chunk_errors.find_one({"_id": chunk_key(job_id, chunk)})
        return None if found is None else str(found["message"])
