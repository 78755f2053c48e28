"""The hash that chains entries: SHA-256 over an entry's canonical JSON and the hash before it.

Pure: the writer (``services.audit_record``) and the checker (``selectors.audit_verify``)
compute it the same way from the same fields.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

# The fields the hash covers, in the canonical JSON's (sorted) key order.
HASHED_FIELDS = (
    "sequence",
    "at",
    "actor_id",
    "actor_name",
    "address",
    "action",
    "project_id",
    "project_name",
    "target_type",
    "target_id",
    "target_text",
    "details",
)


def canonical_details(details: dict[str, Any]) -> dict[str, Any]:
    """The details as JSON gives them back (what the database returns, so what is hashed)."""
    return json.loads(json.dumps(details, default=str))


def time_text(at: datetime) -> str:
    """The time as hashed: UTC, ISO 8601 with microseconds."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of the entry's canonical JSON followed by the previous hash."""
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["at"] = time_text(payload["at"])
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((text + "\n" + prev_hash).encode()).hexdigest()
