"""A DNS server on loopback answering from a dict of records (dnspython, UDP and TCP).

Names not listed are NXDOMAIN; with a ``zone``, names outside it are REFUSED instead (the server
is authoritative for its zone and answers for nothing else), which a resolver reports as a lookup
failure rather than as a domain that does not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

__all__ = ["LoopbackDns", "Records"]

# name -> rdtype ("MX", "A", ...) -> rdata texts; the special rdtype "SERVFAIL" makes every query
# of the name fail, "DROP" makes it go unanswered.
Records = dict[str, dict[str, list[str]]]


class _DnsUdp(asyncio.DatagramProtocol):
    def __init__(self, answer: Callable[[bytes], bytes | None]) -> None:
        self.answer = answer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        wire = self.answer(data)
        if wire is not None and self.transport is not None:
            self.transport.sendto(wire, addr)


@dataclass
class LoopbackDns:
    records: Records
    host: str = "127.0.0.1"
    port: int = 0
    # The zone answered for ("example": every name ending in .example); "" answers every name.
    zone: str = ""
    queries: Counter[tuple[str, str]] = field(default_factory=Counter)
    _udp: asyncio.DatagramTransport | None = None
    _tcp: asyncio.Server | None = None

    @property
    def nameserver(self) -> str:
        """``host:port``, as ``LEADMESH_DNS_NAMESERVERS`` takes it."""
        return f"{self.host}:{self.port}"

    def _outside_zone(self, name: str) -> bool:
        return bool(self.zone) and name != self.zone and not name.endswith(f".{self.zone}")

    def answer(self, data: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries[(name, rdtype)] += 1
        entry = self.records.get(name)
        if self._outside_zone(name):
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        response.flags |= dns.flags.AA
        if entry is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif "DROP" in entry:
            return None
        elif "SERVFAIL" in entry:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif entry.get(rdtype):
            response.answer.append(
                dns.rrset.from_text_list(
                    question.name, 300, dns.rdataclass.IN, question.rdtype, entry[rdtype]
                )
            )
        return response.to_wire()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                wire = self.answer(await reader.readexactly(length))
                if wire is not None:
                    writer.write(struct.pack("!H", len(wire)) + wire)
                    await writer.drain()
        writer.close()

    async def start(self) -> LoopbackDns:
        """Listens on TCP and UDP at the same port (a free one when ``port`` is 0)."""
        loop = asyncio.get_running_loop()
        for _ in range(20):  # the port free for TCP may be taken for UDP
            self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self.port)
            port = self._tcp.sockets[0].getsockname()[1]
            try:
                self._udp, _ = await loop.create_datagram_endpoint(
                    lambda: _DnsUdp(self.answer), local_addr=(self.host, port)
                )
            except OSError:
                if self.port:
                    raise
                self._tcp.close()
                continue
            self.port = port
            return self
        raise RuntimeError(f"no port free for both TCP and UDP on {self.host}")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
