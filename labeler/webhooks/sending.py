"""One POST of a delivery's body to a checked target (``addresses.Target``).

It connects to the address that was checked, never resolving the name again, and sends
the name in ``Host`` (and, over TLS, in SNI, where the certificate is checked against it).
Redirects are not followed, nothing is retried here (the worker retries the delivery),
each read waits ``timeout`` seconds at most and the whole answer is read up to ``cap``
bytes within a deadline, so a slow or endless answer cannot hold a worker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

from labeler.webhooks.addresses import Target

CHUNK = 4096
CONNECTION_FAILED = "Connection failed"


@dataclass(frozen=True)
class Answer:
    """What came back: the HTTP status and the first bytes of the body, or why nothing did."""

    http_status: int | None
    body: bytes
    error: str
    ms: int


def post(
    target: Target, body: bytes, headers: dict[str, str], *, timeout: float, cap: int
) -> Answer:
    """POST ``body`` to ``target``'s checked addresses in turn, until one takes the
    connection; never raises for the network."""
    answer = Answer(None, b"", "No address to connect to.", 0)
    for address in target.addresses:
        answer = _post_to(address, target, body, headers, timeout=timeout, cap=cap)
        if not answer.error.startswith(CONNECTION_FAILED):
            break
    return answer


def _post_to(
    address: str,
    target: Target,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    cap: int,
) -> Answer:
    started = time.monotonic()
    pool = _pool(address, target, timeout)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            data = _read_capped(response, cap, deadline=started + 2 * timeout)
        finally:
            response.close()
    except NewConnectionError as exc:  # before TimeoutError, which it subclasses
        return Answer(None, b"", f"{CONNECTION_FAILED}: {_reason(exc)}", _ms(started))
    except TimeoutError:
        return Answer(None, b"", f"No answer within {timeout:g} s.", _ms(started))
    except HTTPError as exc:
        return Answer(None, b"", f"No answer: {_reason(exc)}", _ms(started))
    finally:
        pool.close()
    return Answer(response.status, data, "", _ms(started))


def _pool(address: str, target: Target, timeout: float) -> urllib3.HTTPConnectionPool:
    limits = urllib3.Timeout(connect=timeout, read=timeout)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=limits,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(
        address, target.port, timeout=limits, retries=False, maxsize=1
    )


def _read_capped(response: urllib3.BaseHTTPResponse, cap: int, *, deadline: float) -> bytes:
    """Up to ``cap`` bytes of the answer, stopping at the deadline with what came."""
    data = bytearray()
    while len(data) < cap and time.monotonic() < deadline:
        chunk = response.read(min(CHUNK, cap - len(data)), decode_content=False)
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason)[:300] or type(exc).__name__


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
