"""Routes that act on a selection of images (bulk actions, erasures): the selection, its
filter and the count its sender saw are read from the JSON body only.

A parameter in the query string of such a request is a 400 naming it, never read and
never ignored: a filter there once looked like part of the request while the body's
selection ran. The count is the selection owner's rule
(``labeler.bulk.selection.selection_resolve``).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from api.permissions import ProjectScopedView
from labeler.errors import ValidationFailed


class SelectionView(ProjectScopedView):
    """Base of the views whose POST takes a selection of images in its body."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method == "POST":
            selection_query_refuse(request)


def selection_query_refuse(request: Request) -> None:
    """Refuse a request that acts on a selection with anything in its query string."""
    for name in request.query_params:
        raise ValidationFailed(
            f"{name!r} in the address: a selection, its filter and expected_count are read "
            "from the JSON body only; send them there.",
            field=name,
        )
