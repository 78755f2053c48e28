"""The annotator loop's addresses are found among the first patterns Django tries.

Django resolves an address by trying each pattern in order, one regular expression
each. Before the API came first and a project's routes sat behind one prefix, `next/`
tried 49 patterns, `annotations/` 120 and an image's signed link 40, on every call. The
counts are pinned here, so that a route added in front of them shows up as a failing
test, not as a slower loop.
"""

from __future__ import annotations

import pytest
from django.urls import resolve
from django.urls.resolvers import RegexPattern, RoutePattern

from labeler.images.delivery.links import file_link

# The loop's addresses and the most patterns each may try, prefixes included.
LOOP = {
    "/api/v1/projects/7/next/": 5,
    "/api/v1/projects/7/annotations/": 7,
}


@pytest.fixture
def tried(monkeypatch) -> list[str]:
    """Every pattern tried, as its text, while the test resolves addresses."""
    seen: list[str] = []
    for kind in (RoutePattern, RegexPattern):
        original = kind.match

        def counted(self, path, original=original):
            seen.append(str(self))
            return original(self, path)

        monkeypatch.setattr(kind, "match", counted)
    return seen


@pytest.mark.parametrize(("address", "most"), LOOP.items())
def test_the_loops_api_calls_try_few_patterns(tried, address, most):
    match = resolve(address)
    assert match.kwargs == {"project_pk": 7}
    assert match.url_name in {"next-image", "annotation-list"}
    assert len(tried) <= most, tried


def test_an_image_link_tries_few_patterns(tried):
    address = file_link("images/7/ab/" + "a" * 64 + ".png", user_id=3)
    assert resolve(address).url_name == "image-file-link"
    # The API's two prefixes, the admin's, the pages' and the link's own.
    assert len(tried) <= 6, tried
