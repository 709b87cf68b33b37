"""How ``leadmesh up --demo`` prints the API's answers: a few lines per answer, read from whatever
keys the answer has (a key it lacks is left out, and a signal may be a name or an object with one)."""

from __future__ import annotations

import csv
import io
import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["csv_lines", "curl_csv", "curl_lead", "lead_answer_lines"]

# Columns of the CSV summary: (header, result column, width).
_CSV_TABLE = (
    ("row", "row_id", 3),
    ("input", "", 38),
    ("status", "status", 13),
    ("email", "enriched_email_status", 10),
    ("icp", "icp_score", 3),
    ("intent", "intent_signals", 0),
)


def curl_lead(gateway_url: str, key: str, body: Mapping[str, Any]) -> str:
    return (
        f"$ curl -s {gateway_url}/v1/enrich/lead -H 'Authorization: Bearer {key}' "
        f"-H 'Content-Type: application/json' -d {shlex.quote(json.dumps(body))}"
    )


def curl_csv(gateway_url: str, key: str, upload: str, result: str) -> str:
    return (
        f"$ curl -s {gateway_url}/v1/enrich/csv -H 'Authorization: Bearer {key}' "
        f"-F file=@{shlex.quote(upload)} -o {shlex.quote(result)}"
    )


# Signals shown of an answer (strongest first); the rest are counted.
SHOWN_SIGNALS = 5


def _names(signals: Any) -> list[str]:
    if not isinstance(signals, list):
        return []
    return [s if isinstance(s, str) else str(s.get("name")) for s in signals if isinstance(s, str | dict)]


def _signals(names: list[str]) -> str:
    if not names:
        return "-"
    more = len(names) - SHOWN_SIGNALS
    return ", ".join(names[:SHOWN_SIGNALS]) + (f" (+{more})" if more > 0 else "")


def _join(*parts: Any, sep: str = ", ") -> str:
    return sep.join(str(part) for part in parts if part not in (None, "", []))


def _person(lead: Mapping[str, Any]) -> str:
    name = _join(lead.get("first_name"), lead.get("last_name"), sep=" ")
    role = _join(lead.get("title"), f"({lead['seniority']})" if lead.get("seniority") else None, sep=" ")
    email = f"<{lead['email']}> {lead.get('email_status') or ''}".strip() if lead.get("email") else ""
    return _join(name, role, email, sep="  ")


def _company(lead: Mapping[str, Any]) -> str:
    facts = _join(lead.get("company_domain"), lead.get("company_size"), lead.get("company_industry"))
    return _join(lead.get("company_name"), f"({facts})" if facts else None, sep=" ")


def _scored(lead: Mapping[str, Any]) -> str:
    if lead.get("icp_score") is None:
        return "ICP: not scored"
    signals = _names(lead.get("icp_signals"))
    return f"ICP {lead['icp_score']} {lead.get('icp_tier') or ''}".strip() + (
        f": {', '.join(signals)}" if signals else ""
    )


def lead_answer_lines(status_code: int, answer: Mapping[str, Any]) -> list[str]:
    """``HTTP 200 completed (1 credit, demo data)`` and the lead (or company and contacts)."""
    meta = answer.get("meta") or {}
    credits = meta.get("credits_used")
    label = _join(
        f"{credits} credit{'s' if credits != 1 else ''}" if credits is not None else None,
        "demo data" if meta.get("demo") else None,
    )
    lines = [f"HTTP {status_code} {answer.get('status', '')}" + (f" ({label})" if label else "")]
    if "error" in answer:
        return [*lines, f"  {answer['error'].get('code')}: {answer['error'].get('message')}"]
    lead = answer.get("lead") or {}
    contacts = answer.get("contacts")
    if contacts is None and lead:
        lines += [f"  {_person(lead)}", f"  at {_company(lead)}", f"  {_scored(lead)}"]
    elif lead:
        lines.append(f"  {_company(lead)}")
    if lead:
        lines.append(f"  intent: {_signals(_names(lead.get('intent_signals')))}")
    if contacts:
        lines.append("  best-fit contacts:")
        for contact in contacts:
            score = contact.get("icp_score")
            lines.append(f"    {'-' if score is None else score:>3}  {_person(contact)}")
    return lines


def _input(row: Mapping[str, str]) -> str:
    if row.get("email"):
        return row["email"]
    name = _join(row.get("first_name"), row.get("last_name"), sep=" ")
    return _join(name, f"@ {row['company']}" if row.get("company") else None, sep=" ")


def csv_lines(headers: Mapping[str, str], text: str, rows: Sequence[Mapping[str, str]]) -> list[str]:
    """The enriched file's rows, one line each, under a summary of statuses and credits."""
    results = list(csv.DictReader(io.StringIO(text)))
    statuses: dict[str, int] = {}
    for result in results:
        statuses[result.get("status", "")] = statuses.get(result.get("status", ""), 0) + 1
    counts = ", ".join(f"{count} {status}" for status, count in statuses.items())
    used = headers.get("x-credits-used", "?")
    lines = [f"{len(results)} rows: {counts}; {used} credit{'' if used == '1' else 's'}"]
    lines.append("  " + " ".join(f"{title:<{width}}" if width else title for title, _, width in _CSV_TABLE))
    for given, result in zip(rows, results, strict=False):
        cells = []
        for _, column, width in _CSV_TABLE:
            value = (_input(given) if not column else result.get(column, "")) or "-"
            cells.append(f"{value[:width]:<{width}}" if width else _signals(value.split("; ")))
        lines.append("  " + " ".join(cells))
    return lines
