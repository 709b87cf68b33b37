"""Client channels: one per target, trace context and request id in metadata, deadlines always.

``ChannelPool.get("127.0.0.1:50055")`` returns the process's single channel to that target. Every
call made through it carries the current trace context and request id and gets
``default_timeout`` when the caller gave none. :func:`downstream_timeout` derives a call's timeout
from what the incoming call has left, so a downstream deadline never exceeds the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from libs.interceptors import AUTHORIZATION_KEY, REQUEST_ID_KEY
from libs.jsonlog import request_id_var
from libs.settings import CommonSettings
from libs.telemetry import inject_headers

__all__ = ["CallerCredential", "Channel", "ChannelPool", "downstream_timeout", "open_channel"]

_OPTIONS = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]


@dataclass(frozen=True)
class CallerCredential:
    """What a process's calls carry: its own credential (``authorization: Bearer <token>`` on
    every call) and, when the mesh speaks TLS, the CA certificates that sign the servers'."""

    token: str | None = None
    root_certificates: bytes | None = None

    @classmethod
    def of(cls, settings: CommonSettings) -> CallerCredential:
        """From ``LEADMESH_GRPC_TOKEN`` (or ``LEADMESH_GRPC_TOKEN_FILE``) and
        ``LEADMESH_GRPC_TLS_CA_FILE``."""
        token = settings.grpc_token.get_secret_value() if settings.grpc_token else None
        if token is None and settings.grpc_token_file is not None:
            token = settings.grpc_token_file.read_text().strip()
        ca = settings.grpc_tls_ca_file.read_bytes() if settings.grpc_tls_ca_file is not None else None
        return cls(token or None, ca)

    @classmethod
    def from_file(cls, path: Path, root_certificates: bytes | None = None) -> CallerCredential:
        return cls(path.read_text().strip(), root_certificates)

    @property
    def header(self) -> tuple[str, str] | None:
        return (AUTHORIZATION_KEY, f"Bearer {self.token}") if self.token else None


def _outgoing_metadata(metadata: Any, authorization: tuple[str, str] | None) -> grpc.aio.Metadata:
    outgoing = grpc.aio.Metadata(*(metadata or ()))
    if authorization is not None and AUTHORIZATION_KEY not in outgoing:
        outgoing[AUTHORIZATION_KEY] = authorization[1]
    for key, value in inject_headers().items():
        outgoing[key] = value
    request_id = request_id_var.get()
    if request_id and REQUEST_ID_KEY not in outgoing:
        outgoing[REQUEST_ID_KEY] = request_id
    return outgoing


class _Propagating:
    """A multi-callable of the channel (one method of a stub) whose calls carry the current trace
    context and request id, the caller's credential, and ``default_timeout`` when the caller gave
    none."""

    __slots__ = ("authorization", "default_timeout", "inner")

    def __init__(self, inner: Any, default_timeout: float | None, authorization: tuple[str, str] | None):
        self.inner = inner
        self.default_timeout = default_timeout
        self.authorization = authorization

    def __call__(
        self, *request: Any, timeout: float | None = None, metadata: Any = None, **options: Any
    ) -> Any:
        """``request`` is the message, or the iterator of a streaming request (or none)."""
        return self.inner(
            *request,
            timeout=self.default_timeout if timeout is None else timeout,
            metadata=_outgoing_metadata(metadata, self.authorization),
            **options,
        )


class Channel:
    """A grpc.aio channel whose every call goes through :class:`_Propagating`.

    Not a client interceptor: grpc.aio runs an intercepted call in a task of its own, which cost
    30-40 us of CPU per call; this wraps the stub's multi-callables instead, once per stub method."""

    def __init__(
        self,
        channel: grpc.aio.Channel,
        default_timeout: float | None,
        credential: CallerCredential | None = None,
    ):
        self._channel = channel
        self._default_timeout = default_timeout
        self._authorization = credential.header if credential is not None else None

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> _Propagating:
        return _Propagating(
            self._channel.unary_unary(method, *args, **kwargs), self._default_timeout, self._authorization
        )

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> _Propagating:
        return _Propagating(
            self._channel.unary_stream(method, *args, **kwargs), self._default_timeout, self._authorization
        )

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> _Propagating:
        return _Propagating(
            self._channel.stream_unary(method, *args, **kwargs), self._default_timeout, self._authorization
        )

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> _Propagating:
        return _Propagating(
            self._channel.stream_stream(method, *args, **kwargs), self._default_timeout, self._authorization
        )

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._channel.close()

    def __getattr__(self, name: str) -> Any:  # close, channel_ready, get_state, ...
        return getattr(self._channel, name)


class ChannelPool:
    """The long-lived channels of a process, created on first use and closed together."""

    def __init__(self, default_timeout: float = 5.0, credential: CallerCredential | None = None):
        self.default_timeout = default_timeout
        self.credential = credential or CallerCredential()
        self._channels: dict[str, Channel] = {}

    def get(self, target: str) -> Channel:
        """The channel to ``target`` (a grpc.aio channel's methods), for a generated stub."""
        channel = self._channels.get(target)
        if channel is None:
            channel = open_channel(target, self.credential, self.default_timeout)
            self._channels[target] = channel
        return channel

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close()


def open_channel(
    target: str, credential: CallerCredential, default_timeout: float | None = 5.0, options: Any = ()
) -> Channel:
    """A channel to ``target`` whose calls carry ``credential`` (over TLS when it has CA
    certificates), with ``default_timeout`` on the calls given none (None: no deadline); close it
    with ``await channel.close()`` or ``async with``."""
    options = [*_OPTIONS, *options]
    if credential.root_certificates is not None:
        tls = grpc.ssl_channel_credentials(root_certificates=credential.root_certificates)
        inner = grpc.aio.secure_channel(target, tls, options=options)
    else:
        inner = grpc.aio.insecure_channel(target, options=options)
    return Channel(inner, default_timeout, credential)


def downstream_timeout(
    context: grpc.aio.ServicerContext[Any, Any] | None, cap: float, margin: float = 0.01
) -> float:
    """A downstream call's timeout: ``cap``, or less when the incoming call has less time left."""
    remaining = context.time_remaining() if context is not None else None
    if remaining is None:
        return cap
    return max(0.001, min(cap, float(remaining) - margin))
