"""Client channels: one per target, trace context and request id in metadata, deadlines always.

``ChannelPool.get("127.0.0.1:50055")`` returns the process's single channel to that target. Every
call made through it carries the current trace context and request id and gets
``default_timeout`` when the caller gave none. :func:`downstream_timeout` derives a call's timeout
from what the incoming call has left, so a downstream deadline never exceeds the caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from libs.interceptors import REQUEST_ID_KEY
from libs.jsonlog import request_id_var
from libs.telemetry import inject_headers

__all__ = ["ChannelPool", "downstream_timeout"]


def _outgoing_metadata(
    details: grpc.aio.ClientCallDetails, default_timeout: float
) -> grpc.aio.ClientCallDetails:
    metadata = grpc.aio.Metadata(*(details.metadata or ()))
    for key, value in inject_headers().items():
        metadata[key] = value
    request_id = request_id_var.get()
    if request_id and REQUEST_ID_KEY not in metadata:
        metadata[REQUEST_ID_KEY] = request_id
    return grpc.aio.ClientCallDetails(
        method=details.method,
        timeout=details.timeout if details.timeout is not None else default_timeout,
        metadata=metadata,
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class _Propagator:
    """Base of the four interceptors below: grpc.aio files an interceptor under the first call type
    it implements only, so each call type needs its own instance to be intercepted at all."""

    def __init__(self, default_timeout: float):
        self.default_timeout = default_timeout


class _UnaryUnary(_Propagator, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_outgoing_metadata(client_call_details, self.default_timeout), request)


class _UnaryStream(_Propagator, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(_outgoing_metadata(client_call_details, self.default_timeout), request)


class _StreamUnary(_Propagator, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        return await continuation(
            _outgoing_metadata(client_call_details, self.default_timeout), request_iterator
        )


class _StreamStream(_Propagator, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        return await continuation(
            _outgoing_metadata(client_call_details, self.default_timeout), request_iterator
        )


_INTERCEPTORS = (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)


class ChannelPool:
    """The long-lived channels of a process, created on first use and closed together."""

    def __init__(self, default_timeout: float = 5.0):
        self.default_timeout = default_timeout
        self._channels: dict[str, grpc.aio.Channel] = {}

    def get(self, target: str) -> grpc.aio.Channel:
        channel = self._channels.get(target)
        if channel is None:
            channel = grpc.aio.insecure_channel(
                target,
                interceptors=[kind(self.default_timeout) for kind in _INTERCEPTORS],
                options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
            )
            self._channels[target] = channel
        return channel

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close()


def downstream_timeout(
    context: grpc.aio.ServicerContext[Any, Any] | None, cap: float, margin: float = 0.01
) -> float:
    """A downstream call's timeout: ``cap``, or less when the incoming call has less time left."""
    remaining = context.time_remaining() if context is not None else None
    if remaining is None:
        return cap
    return max(0.001, min(cap, float(remaining) - margin))
