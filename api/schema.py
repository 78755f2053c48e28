"""OpenAPI schema additions: the error answers every operation may give, in their one shape."""

from __future__ import annotations

from typing import Any

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error: a message a user can act on, a code, and field errors.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "object",
            "description": "For invalid input: messages by field.",
            "additionalProperties": True,
        },
    },
    "required": ["detail", "code"],
}
# Statuses any operation may answer, and why (api/errors.py writes them all).
ERROR_STATUSES = {
    "400": "Invalid input: the message and `errors` name what is wrong.",
    "401": "Not logged in (no or a bad token or session).",
    "403": "Logged in, but the caller's role does not allow this.",
    "404": "No such object, or one of a project the caller cannot see.",
    "405": "Method not allowed here.",
    "406": "No answer in the requested media type.",
    "409": "Conflicts with the current state (the message says which).",
    "413": "Request too large.",
    "415": "Unsupported request media type.",
    "422": "Well-formed but refused (e.g. an Idempotency-Key reused for another request).",
    "429": "Too many requests (login throttling); retry after `Retry-After` seconds.",
    "503": "A service the request needs is unavailable; retry after `Retry-After` seconds.",
}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def document_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the error answers each operation lacks."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(ERROR_COMPONENT, ERROR_SCHEMA)
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                # An answer a view documented by its description alone gets the shape too.
                answer = responses.setdefault(status, {"description": description})
                answer.setdefault("content", {"application/json": {"schema": ref}})
    return result
