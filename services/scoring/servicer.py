"""ScoringService over gRPC: proto in, domain call, proto out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from leadmesh.scoring.v1 import scoring_service_pb2 as pb
from leadmesh.scoring.v1 import scoring_service_pb2_grpc as pb_grpc
from libs.errors import InvalidArgument
from services.scoring.domain import IcpScorer, validate_profile
from services.scoring.profiles import IcpProfiles
from services.scoring.protos import (
    fill_score,
    profile_from_proto,
    profile_to_proto,
    subject_from_proto,
    timestamp_seconds,
)

__all__ = ["ScoringServicer"]

Context = Any


class ScoringServicer(pb_grpc.ScoringServiceServicer):
    def __init__(
        self,
        profiles: IcpProfiles,
        max_batch: int,
        batch_slice: int,
        clock: Callable[[], float] = time.time,
    ):
        self.profiles = profiles
        self.max_batch = max_batch
        self.batch_slice = batch_slice
        self.clock = clock

    def _now(self, request: pb.ScoreRequest | pb.ScoreBatchRequest) -> float:
        return timestamp_seconds(request.score_time) if request.HasField("score_time") else self.clock()

    async def GetIcpProfile(
        self, request: pb.GetIcpProfileRequest, context: Context
    ) -> pb.GetIcpProfileResponse:
        profile = await self.profiles.get(request.account_id, request.version)
        return pb.GetIcpProfileResponse(profile=profile_to_proto(profile))

    async def UpdateIcpProfile(
        self, request: pb.UpdateIcpProfileRequest, context: Context
    ) -> pb.UpdateIcpProfileResponse:
        if not request.HasField("profile"):
            raise InvalidArgument(
                "profile is required", reason="PROFILE_REQUIRED", metadata={"field": "profile"}
            )
        updated = await self.profiles.update(
            request.account_id, profile_from_proto(request.profile), request.expected_version
        )
        return pb.UpdateIcpProfileResponse(profile=profile_to_proto(updated))

    async def ListIcpProfileVersions(
        self, request: pb.ListIcpProfileVersionsRequest, context: Context
    ) -> pb.ListIcpProfileVersionsResponse:
        versions, token = await self.profiles.versions(
            request.account_id, request.page_size, request.page_token
        )
        return pb.ListIcpProfileVersionsResponse(
            profiles=[profile_to_proto(v) for v in versions], next_page_token=token
        )

    async def Score(self, request: pb.ScoreRequest, context: Context) -> pb.ScoreResponse:
        if request.HasField("draft_profile"):
            if request.profile_version:
                raise InvalidArgument(
                    "give a draft_profile or a profile_version, not both",
                    reason="DRAFT_WITH_VERSION",
                    metadata={"field": "profile_version"},
                )
            scorer = IcpScorer(validate_profile(profile_from_proto(request.draft_profile)), 0)
        else:
            scorer = await self.profiles.scorer(request.account_id, request.profile_version)
        response = pb.ScoreResponse()
        fill_score(response.score, scorer.score(subject_from_proto(request.subject), self._now(request)))
        return response

    async def ScoreBatch(self, request: pb.ScoreBatchRequest, context: Context) -> pb.ScoreBatchResponse:
        subjects = request.subjects
        if len(subjects) > self.max_batch:
            raise InvalidArgument(
                f"at most {self.max_batch} subjects per call, got {len(subjects)}",
                reason="BATCH_TOO_LARGE",
                metadata={"field": "subjects"},
            )
        scorer = await self.profiles.scorer(request.account_id, request.profile_version)
        now = self._now(request)
        response = pb.ScoreBatchResponse(profile_version=scorer.version)
        scores, score, add = response.scores, scorer.score, response.scores.add
        for start in range(0, len(subjects), self.batch_slice):
            if start:
                await asyncio.sleep(0)
            for subject in subjects[start : start + self.batch_slice]:
                fill_score(add(), score(subject_from_proto(subject), now))
        assert len(scores) == len(subjects)
        return response
