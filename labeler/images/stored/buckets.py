"""Reading images where they lie in an S3-compatible bucket: listing, reading, presigning.

One connection's settings for the whole server (``LABELER_S3_*``: endpoint, region,
credentials, or boto3's usual chain where they are blank); each registration names its
bucket and prefix (``labeler.references``). Everything here reads: nothing writes to or
deletes from a referenced bucket.

S3's failures come out as ``OSError``\\ s with a message a person can act on, so that every
reader of stored files (thumbnails, exports, serving) handles them as it handles a
missing or unreadable file: ``ObjectMissing`` (a ``FileNotFoundError``) for a key that is
gone, ``ObjectUnreadable`` for one object refused, ``BucketUnavailable`` for the bucket,
the endpoint or the credentials.

boto3 comes with the optional "s3" extra; without it every call here says so.
"""

from __future__ import annotations

import functools
import importlib.util
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

# The optional "s3" extra (pip install '.[s3]'), as for FILE_STORAGE=s3. Imported where a
# client is made, not with the module: boto3 takes a fifth of a second to import, which
# every process that loads the URLs would pay at its start, with or without buckets.
HAS_BOTO3 = importlib.util.find_spec("boto3") is not None

# Seconds: an endpoint that is down fails a registration's listing quickly, and a slow
# read of one large photo still gets through.
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 60
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_CREDENTIAL_CODES = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}


class BucketUnavailable(OSError):
    """The bucket, the endpoint or the credentials failed: the message says which."""


class ObjectMissing(FileNotFoundError):
    """The key is not (or no longer) in the bucket."""


class ObjectUnreadable(PermissionError):
    """This one object may not be read (access denied, archived): the others may."""


@dataclass(frozen=True)
class S3Config:
    """The connection's settings (hashable: clients and presigned addresses are cached by it)."""

    endpoint_url: str
    public_endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True)
class ListedObject:
    """One key of a listing, with its size in bytes."""

    key: str
    size: int


def s3_config() -> S3Config:
    """The connection's settings as they are now."""
    return S3Config(
        endpoint_url=settings.LABELER_S3_ENDPOINT_URL,
        public_endpoint_url=settings.LABELER_S3_PUBLIC_ENDPOINT_URL,
        region=settings.LABELER_S3_REGION,
        access_key_id=settings.LABELER_S3_ACCESS_KEY_ID,
        secret_access_key=settings.LABELER_S3_SECRET_ACCESS_KEY,
    )


def s3_available() -> bool:
    """Whether boto3 is installed (the "s3" extra)."""
    return HAS_BOTO3


def endpoint_label(config: S3Config | None = None) -> str:
    """The endpoint as messages name it."""
    config = config or s3_config()
    return config.endpoint_url or "AWS S3"


@functools.lru_cache(maxsize=8)
def _client(config: S3Config, *, for_browser: bool) -> Any:
    """A client (thread-safe, so kept): the browser's one signs for the public endpoint."""
    try:
        import boto3
        import botocore.config
    except ImportError as exc:  # no s3 extra, or one whose botocore is missing or broken
        raise BucketUnavailable(
            "Reading S3 buckets needs boto3: install the server with the s3 extra "
            "(pip install '.[s3]')."
        ) from exc

    endpoint = (config.public_endpoint_url if for_browser else "") or config.endpoint_url
    options = botocore.config.Config(
        signature_version="s3v4",
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": 3, "mode": "standard"},
        # MinIO, Ceph, moto and most other S3-compatible servers answer at one host name.
        s3={"addressing_style": "path" if endpoint else "auto"},
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint or None,
        region_name=config.region or None,
        aws_access_key_id=config.access_key_id or None,
        aws_secret_access_key=config.secret_access_key or None,
        config=options,
    )


def objects_page(bucket: str, prefix: str, *, after: str) -> tuple[list[ListedObject], bool]:
    """Up to 1000 keys under ``prefix`` that sort after ``after`` (S3's order: UTF-8 bytes),
    and whether more follow. Folder markers (keys ending in "/") are listed too."""
    client = _client(s3_config(), for_browser=False)
    page = _call(bucket, "", client.list_objects_v2, Bucket=bucket, Prefix=prefix, StartAfter=after)
    listed = [
        ListedObject(item["Key"], int(item.get("Size", 0))) for item in page.get("Contents", [])
    ]
    return listed, bool(page.get("IsTruncated"))


def object_read(bucket: str, key: str, *, limit: int) -> bytes:
    """The object's bytes; ``ValueError`` when it holds more than ``limit``."""
    with object_open(bucket, key) as body:
        if body.size is not None and body.size > limit:
            raise ValueError(f"Object is {body.size:,} bytes; the limit is {limit:,}.")
        data = body.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"Object is over {limit:,} bytes.")
    return data


def object_open(bucket: str, key: str) -> ObjectBody:
    """The object, streamed: read it in pieces, close it when done."""
    client = _client(s3_config(), for_browser=False)
    answer = _call(bucket, key, client.get_object, Bucket=bucket, Key=key)
    return ObjectBody(answer["Body"], answer.get("ContentLength"), name=f"{bucket}/{key}")


class ObjectBody:
    """An object's body as a read-only binary file (reads that fail become ``OSError``)."""

    def __init__(self, stream: Any, size: int | None, *, name: str) -> None:
        self._stream = stream
        self.size = size
        self.name = name

    def read(self, size: int = -1) -> bytes:
        try:
            data: bytes = self._stream.read(None if size < 0 else size)
        except Exception as exc:  # botocore's connection errors, raised while streaming
            raise BucketUnavailable(f"Reading {self.name} failed: {exc}") from exc
        return data

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> ObjectBody:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def presigned_url(bucket: str, key: str, *, content_type: str) -> str:
    """A GET address of the object that works for ``LABELER_S3_PRESIGN_SECONDS``.

    Presigned for the start of the current half-lifetime and kept that long in this
    process: the same address comes back meanwhile (the browser's cache keeps hitting),
    and each one handed out works for at least half a lifetime more. Signing is local
    (no request to the endpoint). The answer carries the type the key's extension names.
    """
    lifetime = int(settings.LABELER_S3_PRESIGN_SECONDS)
    step = max(lifetime // 2, 1)
    return _presigned(s3_config(), bucket, key, content_type, lifetime, int(time.time()) // step)


@functools.lru_cache(maxsize=8192)
def _presigned(
    config: S3Config, bucket: str, key: str, content_type: str, lifetime: int, period: int
) -> str:
    del period  # a key of the cache only: a new address each half-lifetime
    client = _client(config, for_browser=True)
    params = {"Bucket": bucket, "Key": key, "ResponseContentType": content_type}
    url: str = client.generate_presigned_url("get_object", Params=params, ExpiresIn=lifetime)
    return url


def _call(bucket: str, key: str, method: Any, **arguments: Any) -> Any:
    """One S3 request, its failures told as ``OSError``\\ s a person can act on."""
    import botocore.exceptions  # imported already by the client's making

    try:
        return method(**arguments)
    except botocore.exceptions.ClientError as exc:
        raise _client_error(exc, bucket, key) from exc
    except botocore.exceptions.NoCredentialsError as exc:
        raise BucketUnavailable(
            "No S3 credentials: set LABELER_S3_ACCESS_KEY_ID and LABELER_S3_SECRET_ACCESS_KEY "
            "(or give the server a role)."
        ) from exc
    except (botocore.exceptions.BotoCoreError, OSError) as exc:
        raise BucketUnavailable(f"Cannot reach the S3 endpoint {endpoint_label()}: {exc}") from exc


def _client_error(exc: Any, bucket: str, key: str) -> OSError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = error.get("Message") or code
    if code == "NoSuchBucket":
        return BucketUnavailable(f"Bucket {bucket!r} does not exist at {endpoint_label()}.")
    if key and code in _MISSING_CODES:
        return ObjectMissing(f"{key!r} is no longer in bucket {bucket!r}.")
    if code in _CREDENTIAL_CODES:
        return BucketUnavailable(
            f"{endpoint_label()} refused the S3 credentials ({code}): check "
            "LABELER_S3_ACCESS_KEY_ID and LABELER_S3_SECRET_ACCESS_KEY."
        )
    if code in {"AccessDenied", "403", "AllAccessDisabled"} and not key:
        return BucketUnavailable(
            f"Access to bucket {bucket!r} was denied: the server's credentials need "
            "s3:ListBucket on it (and s3:GetObject on its objects)."
        )
    if key:  # denied, archived (InvalidObjectState) or else: this object only
        return ObjectUnreadable(f"S3 answered {code} for {key!r}: {message}")
    return BucketUnavailable(f"S3 answered {code} for bucket {bucket!r}: {message}")
