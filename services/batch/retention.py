"""Retention of CSV jobs: past ``LEADMESH_RECORD_RETENTION_DAYS`` a job's rows, results and chunks
are deleted (its document stays with its counts and credits, and its result answers 410), and a
spooled upload left behind by a crash is removed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from services.batch.repository import JobRepository

__all__ = ["JobRetention"]

log = logging.getLogger("leadmesh.batch")
DAY = 86_400


class JobRetention:
    def __init__(
        self,
        repository: JobRepository,
        days: int,
        spool_dir: Path | None,
        clock: Callable[[], float] = time.time,
    ):
        self.repository = repository
        self.days = days
        self.spool_dir = spool_dir
        self.clock = clock

    async def purge(self) -> int:
        """Purges what is past the retention period; how many jobs."""
        cutoff = self.clock() - self.days * DAY
        jobs = await self.repository.purge_jobs(datetime.fromtimestamp(cutoff, UTC))
        spooled = self._purge_spool(cutoff)
        if jobs or spooled:
            log.info("retention purge", extra={"jobs": jobs, "spooled_files": spooled})
        return jobs

    def _purge_spool(self, cutoff: float) -> int:
        if self.spool_dir is None or not self.spool_dir.is_dir():
            return 0
        removed = 0
        for path in self.spool_dir.glob("job_*.csv"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
