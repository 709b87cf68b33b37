"""Service processes as they run in production (``python -m ...``), for the tests that start them:
their environment, their JSON log lines, and the wait until one reports SERVING."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.grpc_callers import caller_env

__all__ = ["ServiceProcess", "service_env"]


def service_env(repo_root: Path, **variables: str) -> dict[str, str]:
    """This environment without any ``LEADMESH_`` or ``OTEL_`` variable, the checkout on the
    path, the test run's caller credentials (``tests.grpc_callers``), and ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADMESH_", "OTEL_"))}
    inherited = [part for part in env.get("PYTHONPATH", "").split(os.pathsep) if part]
    env["PYTHONPATH"] = os.pathsep.join([str(repo_root), str(repo_root / "proto"), *inherited])
    return env | caller_env() | variables


@dataclass
class ServiceProcess:
    name: str
    process: subprocess.Popen[bytes]
    stderr: Path
    terminated: bool = field(default=False, init=False)

    @classmethod
    def start(cls, name: str, args: list[str], env: dict[str, str], logs: Path) -> ServiceProcess:
        """``python -m <args>``, its stderr (the JSON log lines) kept in ``logs/<name>.stderr``."""
        stderr = logs / f"{name}.stderr"
        with stderr.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", *args], env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink
            )
        return cls(name, process, stderr)

    def log(self) -> list[dict[str, Any]]:
        """The JSON lines it has logged so far (gRPC's C core writes a few lines of its own)."""
        return [json.loads(line) for line in self.stderr.read_text().splitlines() if line.startswith("{")]

    def messages(self) -> list[str]:
        return [str(entry["message"]) for entry in self.log()]

    def exited(self) -> str:
        return f"{self.name} exited with {self.process.returncode}:\n{self.stderr.read_text()[-3000:]}"

    async def wait_serving(self, address: str, service: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with grpc.aio.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                assert self.process.poll() is None, self.exited()
                try:
                    answer = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.aio.AioRpcError:
                    pass
                assert time.monotonic() < deadline, f"{self.name} not SERVING within {timeout}s"
                await asyncio.sleep(0.05)

    def terminate(self) -> None:
        """SIGTERM, once (a second one is the default action again once it has stopped serving)."""
        if self.process.poll() is None and not self.terminated:
            self.process.terminate()
            self.terminated = True

    async def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM unless sent already, then its exit code (killed if it does not exit within
        ``timeout``)."""
        self.terminate()
        try:
            return await asyncio.to_thread(self.process.wait, timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
