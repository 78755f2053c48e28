"""The Idempotency-Key header on writes: a retried request is answered, not applied, again.

Decorate a view's write method with ``@idempotent``. Without the header nothing changes
(no query is added). With it, the write, the key and its answer are one transaction:
a retry with the same key and request gets the stored answer, marked by the header
``Idempotent-Replayed: true``; only successful answers are stored (a refused request
changed nothing and may be sent again).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import QueryDict
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from api.permissions import request_user
from labeler.idempotency import services

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"

IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Makes the request safe to retry: a request repeated with the same key (1 to 255 "
        "visible ASCII characters, e.g. a UUID) within 24 hours is answered as the first was, "
        f"with the header `{REPLAYED}: true`, and applied once. The same key with another "
        "path or body answers 422."
    ),
)

View = TypeVar("View", bound=Callable[..., Response])


def idempotent(method: View) -> View:
    """Make a view's write method honour the Idempotency-Key header."""

    @functools.wraps(method)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return method(view, request, *args, **kwargs)
        key = services.idempotency_key_check(key)
        user_id = request_user(request).pk
        # A replay answers only those who may still write here (a member removed since
        # gets the 404 of any stranger); the write's own checks run again inside.
        require_member = getattr(view, "require_member", None)
        if require_member is not None:
            require_member()
        fingerprint = services.request_fingerprint(
            method=request.method or "", path=request.path, body=_canonical_body(request)
        )
        with transaction.atomic():
            stored = services.idempotency_claim(user_id=user_id, key=key, fingerprint=fingerprint)
            if stored is not None:
                assert stored.status is not None
                body = json.loads(stored.response or "null")
                return Response(body, status=stored.status, headers={REPLAYED: "true"})
            response = method(view, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                services.idempotency_record(
                    user_id=user_id,
                    key=key,
                    status=response.status_code,
                    response=json.dumps(response.data, cls=JSONEncoder),
                )
            else:  # nothing was applied: the key stays free for a retry
                transaction.set_rollback(True)
            return response

    return wrapper  # type: ignore[return-value]


def _canonical_body(request: Request) -> bytes:
    """The parsed body, in one spelling: key order and spacing do not make another request."""
    data = request.data
    if isinstance(data, QueryDict):
        data = {name: data.getlist(name) for name in sorted(data)}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), cls=_FingerprintEncoder).encode()


class _FingerprintEncoder(JSONEncoder):
    """DRF's encoder, with a file of a multipart body stood for by its name, size and hash
    (DRF's own would read it as text, and fail on an image's bytes)."""

    def default(self, obj: Any) -> Any:
        if isinstance(obj, UploadedFile):
            digest = hashlib.sha256()
            for chunk in obj.chunks():
                digest.update(chunk)
            obj.seek(0)
            return {"name": obj.name, "size": obj.size, "sha256": digest.hexdigest()}
        return super().default(obj)
