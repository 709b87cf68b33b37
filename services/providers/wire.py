"""Lookup results as protobuf, built from serialized parts.

A batch answer holds tens of thousands of records, each with a ``field_sources`` map whose
values repeat (every field one match filled has the same source). Building a message object
per field and per map entry, then copying each into its parent, is most of the cost of a
large answer. Here each record is one constructor call for its scalar fields, serialized,
plus its ``field_sources`` entries as bytes (each source serialized once, each entry's head
made once per field and value size); the parts are joined as the wire format allows (a
message's serialized fields concatenate; a submessage is a length-delimited field) and the
response is parsed back from those bytes in one C call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from leadmesh.common.v1 import common_pb2 as common
from leadmesh.providers.v1 import providers_service_pb2 as pb
from services.providers.domain.models import Attempt, FieldSource, LookupResult, Outcome, Record

__all__ = ["Convert", "Encoder", "RecordKind", "length_delimited"]

Convert = Callable[[Any], Any]


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL = [_varint(n) for n in range(0x4000)]


def length_delimited(tag: bytes, payload: bytes) -> bytes:
    """Field ``tag`` (its encoded key) holding ``payload`` (a serialized message)."""
    size = len(payload)
    return tag + (_SMALL[size] if size < 0x4000 else _varint(size)) + payload


def _tag(message: type[Message], name: str) -> bytes:
    """The encoded key of a length-delimited field (wire type 2)."""
    return _varint(message.DESCRIPTOR.fields_by_name[name].number << 3 | 2)


# A map entry is a message with the key as field 1 and the value as field 2.
_ENTRY_KEY = _varint(1 << 3 | 2)
_ENTRY_VALUE = _varint(2 << 3 | 2)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class RecordKind:
    """How a Person or a Company record becomes its message: the converter of each field it
    carries (fields without one are left out, as are their sources)."""

    message: type[Message]
    convert: Mapping[str, Convert]
    # The ``field_sources`` field's encoded key, and each field's map entry key part (field 1).
    sources_tag: bytes = field(init=False)
    entry_keys: Mapping[str, bytes] = field(init=False)
    _heads: dict[int, dict[str, bytes]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources_tag", _tag(self.message, "field_sources"))
        keys = {name: length_delimited(_ENTRY_KEY, name.encode()) for name in self.convert}
        object.__setattr__(self, "entry_keys", keys)

    def entry_heads(self, value_size: int) -> Mapping[str, bytes]:
        """What precedes a ``field_sources`` entry's value part of ``value_size`` bytes, by
        field: the map field's key, the entry's length and the entry's key part."""
        heads = self._heads.get(value_size)
        if heads is None:
            tag = self.sources_tag
            heads = self._heads[value_size] = {
                name: tag + _varint(len(key) + value_size) + key for name, key in self.entry_keys.items()
            }
        return heads


_OUTCOME = {
    Outcome.MATCHED: pb.ProviderAttempt.OUTCOME_MATCHED,
    Outcome.NO_MATCH: pb.ProviderAttempt.OUTCOME_NO_MATCH,
    Outcome.LOW_CONFIDENCE: pb.ProviderAttempt.OUTCOME_LOW_CONFIDENCE,
    Outcome.ERROR: pb.ProviderAttempt.OUTCOME_ERROR,
    Outcome.TIMEOUT: pb.ProviderAttempt.OUTCOME_TIMEOUT,
    Outcome.CIRCUIT_OPEN: pb.ProviderAttempt.OUTCOME_CIRCUIT_OPEN,
    Outcome.CACHED: pb.ProviderAttempt.OUTCOME_CACHED,
    Outcome.SKIPPED: pb.ProviderAttempt.OUTCOME_SKIPPED,
}
_RESULT_PERSON = _tag(pb.LookupResult, "person")
_RESULT_COMPANY = _tag(pb.LookupResult, "company")
_RESULT_CONTACTS = _tag(pb.LookupResult, "contacts")
_RESULT_ATTEMPTS = _tag(pb.LookupResult, "attempts")
_BATCH_RESULTS = _tag(pb.LookupBatchResponse, "results")
_SINGLE_RESULT = _tag(pb.LookupResponse, "result")
_CONTACTS_COMPANY = _tag(pb.FindContactsResponse, "company")
_CONTACTS_CONTACTS = _tag(pb.FindContactsResponse, "contacts")


class Encoder:
    """Serializes the records of one response, sharing what they share: a FieldSource per
    distinct source, a contact record (leads of one company share its records) and an attempt
    per distinct attempt."""

    def __init__(self, person: RecordKind, company: RecordKind):
        self.person = person
        self.company = company
        # By id: a response's sources live as long as it is being built (kept in _alive too).
        self._sources: dict[int, bytes] = {}
        self._alive: list[FieldSource] = []
        self._contacts: dict[int, bytes] = {}
        self._attempts: dict[Attempt, bytes] = {}

    def record(self, record: Record, kind: RecordKind) -> bytes:
        """A Person or Company message, serialized: its scalar fields, then its
        ``field_sources`` entries, which for a run of fields with one source are that source's
        bytes joined by the entries' (field-specific) heads."""
        convert = kind.convert
        sources = record.sources
        fields: dict[str, Any] = {}
        runs: list[bytes] = []
        run: list[bytes] = []
        last: FieldSource | None = None
        value = b""
        heads: Mapping[str, bytes] = {}
        for name, given in record.values.items():
            to_proto = convert.get(name)
            if to_proto is None:
                continue
            fields[name] = to_proto(given)
            source = sources[name]
            if source is not last:
                if run:
                    run.append(b"")
                    runs.append(value.join(run))
                    run = []
                value = self._source_value(source)
                heads = kind.entry_heads(len(value))
                last = source
            run.append(heads[name])
        if run:
            run.append(b"")
            runs.append(value.join(run))
        return kind.message(**fields).SerializeToString() + b"".join(runs)

    def _source_value(self, source: FieldSource) -> bytes:
        """The value part of a ``field_sources`` map entry (field 2, the FieldSource)."""
        made = self._sources.get(id(source))
        if made is None:
            made = self._sources[id(source)] = length_delimited(_ENTRY_VALUE, _field_source(source))
            self._alive.append(source)
        return made

    def _contact(self, record: Record) -> bytes:
        """A contact as a LookupResult.contacts field (made once per record)."""
        made = self._contacts.get(id(record))
        if made is None:
            made = self._contacts[id(record)] = length_delimited(
                _RESULT_CONTACTS, self.record(record, self.person)
            )
        return made

    def _attempt(self, attempt: Attempt) -> bytes:
        made = self._attempts.get(attempt)
        if made is None:
            nanos = int(attempt.duration * 1e9)
            message = pb.ProviderAttempt(
                provider=attempt.provider,
                outcome=_OUTCOME[attempt.outcome],
                duration=Duration(seconds=nanos // 1_000_000_000, nanos=nanos % 1_000_000_000),
                reason=attempt.reason,
            )
            made = self._attempts[attempt] = length_delimited(_RESULT_ATTEMPTS, message.SerializeToString())
        return made

    def result(self, result: LookupResult) -> bytes:
        """A LookupResult, serialized."""
        parts = [
            pb.LookupResult(
                found=result.found,
                providers_queried=result.providers_queried,
                providers_matched=result.providers_matched,
                confidence=result.confidence,
                suppressed=result.suppressed,
            ).SerializeToString()
        ]
        if result.person:
            parts.append(length_delimited(_RESULT_PERSON, self.record(result.person, self.person)))
        if result.company:
            parts.append(length_delimited(_RESULT_COMPANY, self.record(result.company, self.company)))
        parts.extend(self._contact(c) for c in result.contacts)
        parts.extend(self._attempt(a) for a in result.attempts)
        return b"".join(parts)

    def batch_response(self, results: Iterable[LookupResult]) -> pb.LookupBatchResponse:
        data = b"".join(length_delimited(_BATCH_RESULTS, self.result(r)) for r in results)
        return pb.LookupBatchResponse.FromString(data)

    def single_response(self, result: LookupResult) -> pb.LookupResponse:
        return pb.LookupResponse.FromString(length_delimited(_SINGLE_RESULT, self.result(result)))

    def contacts_response(
        self, company: Record, contacts: Iterable[Record], next_page_token: str
    ) -> pb.FindContactsResponse:
        parts = [pb.FindContactsResponse(next_page_token=next_page_token).SerializeToString()]
        if company:
            parts.append(length_delimited(_CONTACTS_COMPANY, self.record(company, self.company)))
        parts.extend(length_delimited(_CONTACTS_CONTACTS, self.record(c, self.person)) for c in contacts)
        return pb.FindContactsResponse.FromString(b"".join(parts))


def _field_source(source: FieldSource) -> bytes:
    """A FieldSource, serialized; the time as Timestamp.FromDatetime has it (naive is UTC)."""
    observed = source.observed_at
    delta = observed - (_EPOCH if observed.tzinfo is not None else _NAIVE_EPOCH)
    stamp = Timestamp(seconds=delta.days * 86400 + delta.seconds, nanos=delta.microseconds * 1000)
    message = common.FieldSource(provider=source.provider, confidence=source.confidence, observed_time=stamp)
    return message.SerializeToString()
