"""``leadmesh up``: the whole stack for development, supervised until Ctrl-C or SIGTERM.

Starts the embedded store (unless ``LEADMESH_MONGODB_URI`` is set), a local RabbitMQ if one is
installed and not running, every service that exists, then the gateway; waits until each
reports SERVING; and on a signal stops them in reverse order, children included. With ``--demo``
(:mod:`cli.demo`) the demo world runs in this process for as long as the stack, every child has
``LEADMESH_DEMO=true`` and the world's settings, and the main job is shown once the gateway answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cli.mesh_credentials import MeshCredentials
from cli.state import StackState, local_webhook_secret, privacy_secret
from libs.embedded_store import EmbeddedStore, die_with_parent
from libs.settings import CommonSettings

if TYPE_CHECKING:
    from services.demo_world import DemoWorld

__all__ = ["SERVICES", "Stack", "run_up"]

# Start order: services nothing else depends on first, the pipeline after them.
SERVICES = ("billing", "providers", "verifier", "scoring", "intent", "enrichment", "batch")
READY_TIMEOUT = 60.0


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - the CLI talks to its user


def existing_services() -> list[str]:
    """The services of this checkout that can run (later issues add the rest)."""
    return [name for name in SERVICES if importlib.util.find_spec(f"services.{name}") is not None]


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path


@dataclass
class Stack:
    home: Path
    settings: CommonSettings
    demo: bool = False
    children: list[Child] = field(default_factory=list)
    store: EmbeddedStore | None = None
    started_broker: bool = False
    world: DemoWorld | None = None

    def child_env(self, mongodb_uri: str) -> dict[str, str]:
        # The stack's own credentials (`process_env`), never ones of the caller's environment.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("LEADMESH_GRPC_TOKEN", "LEADMESH_GRPC_VERIFY"))
        }
        env.update(
            {
                "LEADMESH_MONGODB_URI": mongodb_uri,
                "LEADMESH_AMQP_URL": self.settings.amqp_url,
                "LEADMESH_HOME": str(self.home),
                "LEADMESH_DEMO": "true" if self.demo else "false",
                "LEADMESH_PRIVACY_HASH_SECRET": privacy_secret(self.home, create=True) or "",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if "LEADMESH_WEBHOOK_SECRET" not in env:  # batch refuses to start without a good one
            env["LEADMESH_WEBHOOK_SECRET"] = local_webhook_secret(self.home, create=True) or ""
        if self.world is not None:
            env.update(self.world.service_env())
        for name in (*SERVICES, "gateway"):
            env[f"LEADMESH_{name.upper()}_ADDR"] = self.settings.of(name)
        return env

    async def start_store(self) -> str:
        if "LEADMESH_MONGODB_URI" in os.environ:
            say(f"store: {self.settings.mongodb_uri} (LEADMESH_MONGODB_URI)")
            return self.settings.mongodb_uri
        self.store = EmbeddedStore(self.home / "store", self.settings.embedded_store_port)
        uri = await asyncio.to_thread(self.store.start)
        say(f"store: embedded nx-27017 at {uri}, data in {self.store.directory / 'data'}")
        return uri

    async def ensure_broker(self) -> None:
        url = urlparse(self.settings.amqp_url)
        host, port = url.hostname or "127.0.0.1", url.port or 5672
        if _reachable(host, port):
            say(f"broker: RabbitMQ at {host}:{port}")
            return
        server = shutil.which("rabbitmq-server")
        if server is None or host not in {"127.0.0.1", "localhost"}:
            say(
                f"broker: RabbitMQ is not reachable at {host}:{port} and cannot be started here "
                "(install rabbitmq-server or set LEADMESH_AMQP_URL); "
                "services that need it will report NOT_SERVING"
            )
            return
        say("broker: starting the local rabbitmq-server ...")
        await _run(server, "-detached")
        deadline = time.monotonic() + READY_TIMEOUT
        while not _reachable(host, port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"rabbitmq-server did not open {host}:{port} in {READY_TIMEOUT:.0f}s")
            await asyncio.sleep(0.5)
        self.started_broker = True
        say(f"broker: RabbitMQ at {host}:{port} (started by leadmesh up)")

    async def spawn(self, name: str, module: str, env: dict[str, str], *args: str) -> Child:
        env = env | MeshCredentials.of(self.home).process_env(name)
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name}.log"
        with log_path.open("ab") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                module,
                *args,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                env=env,
                preexec_fn=die_with_parent,  # no orphans even if `up` itself is killed
            )
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    async def wait_serving(self, child: Child) -> None:
        address = self.settings.of(child.name)
        deadline = time.monotonic() + READY_TIMEOUT
        async with grpc.aio.insecure_channel(address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while True:
                self.check_alive(child)
                with contextlib.suppress(grpc.aio.AioRpcError):
                    reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        say(f"{child.name}: SERVING on {address}")
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{child.name} did not report SERVING in {READY_TIMEOUT:.0f}s")
                await asyncio.sleep(0.2)

    async def wait_gateway(self, child: Child) -> str:
        url = f"http://{self.settings.gateway_addr}"
        deadline = time.monotonic() + READY_TIMEOUT
        async with httpx.AsyncClient(base_url=url, timeout=2.0) as http:
            while True:
                self.check_alive(child)
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        return url
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the gateway did not become healthy in {READY_TIMEOUT:.0f}s")
                await asyncio.sleep(0.2)

    @staticmethod
    def check_alive(child: Child) -> None:
        if child.process.returncode is not None:
            tail = child.log_path.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"{child.name} exited with {child.process.returncode}:\n" + "\n".join(tail))

    async def stop(self) -> None:
        for child in reversed(self.children):
            if child.process.returncode is None:
                child.process.send_signal(signal.SIGTERM)
        grace = self.settings.shutdown_grace + 5
        for child in reversed(self.children):
            try:
                await asyncio.wait_for(child.process.wait(), grace)
            except TimeoutError:
                child.process.kill()
                await child.process.wait()
        self.children.clear()
        if self.world is not None:
            await self.world.stop()
        if self.store is not None:
            await asyncio.to_thread(self.store.stop)
        if self.started_broker and (ctl := shutil.which("rabbitmqctl")):
            await _run(ctl, "stop")
        StackState.clear(self.home)


async def _supervise(stack: Stack) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        mongodb_uri = await stack.start_store()
        await stack.ensure_broker()
        if stack.demo:
            from cli.demo import start_demo_world

            stack.world = await start_demo_world(mongodb_uri, stack.settings.mongodb_database)
        MeshCredentials.of(stack.home).ensure()
        env = stack.child_env(mongodb_uri)
        for name in existing_services():
            await stack.wait_serving(await stack.spawn(name, f"services.{name}", env))
        if "batch" in existing_services():  # CSV jobs need a worker; it serves no port to wait on
            stack.check_alive(await stack.spawn("batch-worker", "services.batch", env, "worker"))
        gateway_url = await stack.wait_gateway(await stack.spawn("gateway", "gateway", env))
        addresses = {name: stack.settings.of(name) for name in (*existing_services(), "gateway")}
        StackState(os.getpid(), mongodb_uri, stack.settings.amqp_url, addresses).save(stack.home)
        say(f"gateway: {gateway_url}  (API docs at {gateway_url}/docs, logs in {stack.home / 'logs'})")
        if stack.world is not None:
            from cli.demo import show_demo

            try:
                await show_demo(gateway_url, stack.settings.billing_addr, stack.world, stack.home)
            except (httpx.HTTPError, grpc.aio.AioRpcError, OSError) as exc:  # the stack itself is up
                say(f"demo: stopped early ({type(exc).__name__}: {exc}); the logs: {stack.home / 'logs'}")
        say("leadmesh is up; Ctrl-C stops it.")
        exits = [asyncio.create_task(child.process.wait()) for child in stack.children]
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopper, *exits], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        for child in stack.children:
            if child.process.returncode is not None and stopper not in done:
                say(f"{child.name} exited unexpectedly with {child.process.returncode}; see {child.log_path}")
                return 1
        return 0
    except RuntimeError as exc:
        say(f"leadmesh up failed: {exc}")
        return 1
    finally:
        say("stopping ...")
        await stack.stop()
        say("stopped.")


def run_up(home: Path, demo: bool) -> int:
    existing = StackState.load(home)
    if existing is not None:
        say(f"a stack is already running from {home} (pid {existing.pid})")
        return 1
    settings = CommonSettings()
    busy = [name for name in (*existing_services(), "gateway") if _reachable(*_host_port(settings.of(name)))]
    if busy:
        say(f"ports already in use for: {', '.join(busy)} (another stack running?)")
        return 1
    return asyncio.run(_supervise(Stack(home=home, settings=settings, demo=demo)))


async def _run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    await process.wait()


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)
