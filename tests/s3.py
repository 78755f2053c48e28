"""A real S3 API for the tests of images read in place: moto's server on a free port.

``s3_server`` starts one for the session (moto's ThreadedMotoServer: an HTTP server on a
thread, reached over the network like any endpoint); ``s3`` points the settings at it and
gives each test a fresh bucket of its own. Test modules import both fixture functions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from bench.load_stack import free_port

REGION = "us-east-1"
KEY_ID = "test-key-id"
SECRET = "test-secret"


@dataclass
class Bucket:
    """A bucket of the test's own, and a client that writes to it as its owner would."""

    client: Any
    name: str
    endpoint: str

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)

    def keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name).get("Contents", [])
        return sorted(item["Key"] for item in listed)

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return body


# Named apart from their functions, so that a test module imports the functions and its
# tests take the fixtures by name without shadowing the import.
@pytest.fixture(name="s3_server", scope="session")
def moto_server() -> Iterator[str]:
    """moto's S3 server for the whole session; its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(name="s3")
def s3_bucket(s3_server: str, settings: Any) -> Bucket:
    """A fresh bucket on the server, and the settings that let a lead register any bucket."""
    settings.LABELER_S3_ENDPOINT_URL = s3_server
    settings.LABELER_S3_PUBLIC_ENDPOINT_URL = ""
    settings.LABELER_S3_REGION = REGION
    settings.LABELER_S3_ACCESS_KEY_ID = KEY_ID
    settings.LABELER_S3_SECRET_ACCESS_KEY = SECRET
    settings.LABELER_REFERENCE_BUCKETS = ["*"]
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )
    name = f"photos-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return Bucket(client, name, s3_server)
