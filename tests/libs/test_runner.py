"""libs.service and libs.runner: a service's start and stop order, and a service process run by the
runner (tests/libs/runner_probe.py) draining on SIGTERM, closing what it opened and exporting its
last metrics on the way out."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from libs.embedded_store import free_port
from libs.grpc_server import GrpcServer
from libs.periodic import Every
from libs.service import Service
from tests.otlp_receiver import OtlpReceiver
from tests.service_processes import ServiceProcess, service_env

PROBE = "leadmesh.test.v1.Probe"


class Recorded:
    """A part, a closer and a server hook that write down when they run."""

    def __init__(self, order: list[str], name: str, fail: str = "") -> None:
        self.order, self.name, self.fail = order, name, fail

    async def start(self) -> None:
        self._step("start")

    async def stop(self) -> None:
        self._step("stop")

    async def close(self) -> None:
        self._step("close")

    def _step(self, step: str) -> None:
        if step == self.fail:
            raise RuntimeError(f"{self.name} cannot {step}")
        self.order.append(f"{step} {self.name}")


def probe_server(order: list[str]) -> GrpcServer:
    async def drained() -> None:
        order.append("drained")

    return GrpcServer(name="probe", address="127.0.0.1:0", services={}, grace=0.5, drained=[drained])


async def test_parts_start_before_the_server_and_stop_after_it_drains_then_closers_run_in_reverse() -> None:
    order: list[str] = []
    a, b = Recorded(order, "a"), Recorded(order, "b")
    service = Service(probe_server(order), parts=[a, b], closers=[a.close, b.close])
    assert await service.start() > 0
    order.append("serving")
    await service.stop()
    await service.stop()  # a second stop does nothing
    assert order == ["start a", "start b", "serving", "drained", "stop b", "stop a", "close b", "close a"]


async def test_stop_after_a_failed_start_stops_every_part_and_closes_but_no_server() -> None:
    order: list[str] = []
    a, b, c = Recorded(order, "a"), Recorded(order, "b", fail="start"), Recorded(order, "c")
    service = Service(probe_server(order), parts=[a, b, c], closers=[a.close])
    with pytest.raises(RuntimeError, match="b cannot start"):
        await service.start()
    await service.stop()
    # b may hold what it started before failing; the server never started, nor drained.
    assert order == ["start a", "stop c", "stop b", "stop a", "close a"]


async def test_a_failing_step_of_stop_is_logged_and_the_rest_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    order: list[str] = []
    a, b = Recorded(order, "a"), Recorded(order, "b", fail="stop")
    service = Service(parts=[a, b], closers=[a.close])
    assert await service.start() == 0  # no server: no port
    with caplog.at_level(logging.ERROR, logger="leadmesh.server"):
        await service.stop()
    assert order == ["start a", "start b", "stop a", "close a"]
    assert [r.getMessage() for r in caplog.records] == ["stopping failed"]


async def test_a_part_is_found_by_its_type() -> None:
    every = Every(60, asyncio.sleep)
    service = Service(parts=[Recorded([], "a"), every])
    assert service.part(Every) is every
    with pytest.raises(LookupError):
        service.part(GrpcServer)


async def test_every_runs_its_job_each_interval_past_failures_and_stop_lets_a_run_finish() -> None:
    runs: list[str] = []
    started = asyncio.Event()

    async def job() -> None:
        runs.append("begun")
        if len(runs) == 1:
            raise RuntimeError("first run fails")
        started.set()
        await asyncio.sleep(0.1)
        runs.append("finished")

    every = Every(0.01, job)
    await every.start()
    await asyncio.wait_for(started.wait(), 5)
    await every.stop()
    assert runs == ["begun", "begun", "finished"]


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    found = OtlpReceiver()
    await found.start()
    yield found
    await found.stop()


def probe_env(repo_root: Path, mongo_uri: str, address: str, **variables: str) -> dict[str, str]:
    return service_env(
        repo_root,
        LEADMESH_PROBE_ADDR=address,
        LEADMESH_MONGODB_URI=mongo_uri,
        LEADMESH_MONGODB_DATABASE=f"t_{uuid.uuid4().hex[:12]}",
        **variables,
    )


async def health_of(channel: grpc.aio.Channel) -> int:
    answer = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service=PROBE), timeout=1
    )
    return int(answer.status)


async def test_on_sigterm_it_stops_serving_drains_stops_closes_and_exports_its_last_metrics(
    receiver: OtlpReceiver, mongo_uri: str, repo_root: Path, tmp_path: Path
) -> None:
    address = f"127.0.0.1:{free_port()}"
    env = probe_env(
        repo_root,
        mongo_uri,
        address,
        LEADMESH_PROBE_CALL_SECONDS="1.5",
        LEADMESH_PROBE_DRAIN_DELAY="0.5",
        LEADMESH_SHUTDOWN_GRACE="5",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_METRIC_EXPORT_INTERVAL="600000",  # nothing is exported before the process ends
    )
    probe = ServiceProcess.start("probe", ["tests.libs.runner_probe"], env, tmp_path)
    try:
        await probe.wait_serving(address, PROBE)
        async with grpc.aio.insecure_channel(address) as channel:
            call = asyncio.ensure_future(channel.unary_unary(f"/{PROBE}/Slow")(b"under way", timeout=10))
            deadline = time.monotonic() + 10
            while "call started" not in probe.messages():
                assert time.monotonic() < deadline and not call.done(), "the call never reached the probe"
                await asyncio.sleep(0.02)
            probe.terminate()
            while await health_of(channel) != health_pb2.HealthCheckResponse.NOT_SERVING:
                assert time.monotonic() < deadline, "still SERVING after SIGTERM"
                await asyncio.sleep(0.02)
            assert await call == b"under way"  # the call under way was let finish
        assert await probe.stop() == 0, probe.exited()
    finally:
        await probe.stop()
    messages = probe.messages()
    order = [m for m in messages if m in ("stop requested", "stopped", "part stopped", "closed")]
    assert order == ["stop requested", "stopped", "part stopped", "part stopped", "closed", "closed"]
    assert [
        (e.get("part"), e.get("closer")) for e in probe.log() if e["message"] in ("part stopped", "closed")
    ] == [
        ("second", None),
        ("first", None),
        (None, "second"),
        (None, "first"),
    ]
    assert "rpc.server.duration" in receiver.metrics["leadmesh-probe"]


async def test_a_service_that_cannot_start_says_why_in_its_log_and_exits_with_1(
    mongo_uri: str, repo_root: Path, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        probe = ServiceProcess.start(
            "probe", ["tests.libs.runner_probe"], probe_env(repo_root, mongo_uri, address), tmp_path
        )
        code = await asyncio.to_thread(probe.process.wait, 30)
    assert code == 1, probe.exited()
    failure = probe.log()[-1]
    assert failure["message"] == "the service could not start" and failure["service"] == "probe"
    assert address in failure["exception"]
