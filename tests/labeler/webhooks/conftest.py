"""Webhooks' fixtures: a receiver on 127.0.0.1, allowed for these tests, and fast retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.labeler.webhooks.receiver import Receiver, loopback_allow


@pytest.fixture
def loopback_allowed(settings):
    """Deliveries may reach 127.0.0.1 (every other private address stays refused)."""
    loopback_allow(settings)


@pytest.fixture
def receiver(loopback_allowed) -> Iterator[Receiver]:
    with Receiver() as running:
        yield running
