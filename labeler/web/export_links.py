"""Exported images at their signed addresses: what Label Studio's pages load.

No session or token is asked for: the signed address is the permission
(``labeler.exports.links``). A refusal is plain text a person reading Label Studio's
error can act on: 404 for an address that is wrong (changed, another image's or another
project's, or its image deleted), 410 once it has expired, 403 once the lead who
exported it no longer leads the project.

CORS: the Label Studio origin named at the export travels inside the signature, so no
setting lists it; ``Access-Control-Allow-Origin`` names it only in answer to a request
from it (and ``Vary: Origin`` says the answer depends on that).
"""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from labeler.audit.context import actor_bind
from labeler.exports.links import ExportLink, export_link_file, export_link_read
from labeler.images.delivery.links import file_reader
from labeler.images.delivery.responses import stored_file_response
from labeler.images.delivery.served import FacesNotShown, project_blurs_faces

WRONG = "This image address is wrong, or its image was deleted; export the tasks again."
EXPIRED = "This image address has expired; export the tasks again for new ones."
NO_LONGER = (
    "The lead who exported this image address no longer leads its project; export the tasks again."
)
MISSING = "The stored file is missing."


@require_GET
def export_link_serve(
    request: HttpRequest, project_id: int, image_id: int, token: str
) -> HttpResponse | FileResponse:
    """An exported image, to whoever holds its signed address, until it expires."""
    link = export_link_read(token, project_id=project_id, image_id=image_id)
    if link is None:
        return _refused(404, WRONG)
    remaining = link.remaining()
    if remaining <= 0:
        return _cors(request, link, _refused(410, EXPIRED))
    exporter = file_reader(project_id=project_id, user_id=link.user_id)
    if exporter is None or not exporter.originals:  # staff, or a lead of the project
        return _cors(request, link, _refused(403, NO_LONGER))
    # The address is the lead's, who exported it: the trail names them for what it serves.
    actor_bind(pk=exporter.user_id, name=exporter.username)
    found = export_link_file(link)
    if found is None:
        return _cors(request, link, _refused(404, WRONG))
    name, originals = found
    # Whoever holds the link gets the file: with faces blurred, never the original.
    originals = originals and not project_blurs_faces(project_id)
    try:
        response = stored_file_response(name, originals=originals, max_age=remaining)
    except FacesNotShown as exc:  # fail closed: never the faces unblurred
        return _cors(request, link, _refused(409, exc.message))
    if response is None:
        return _cors(request, link, _refused(404, MISSING))
    return _cors(request, link, response)


# No session or token: the signed address is the credential (read by the audit trail's test).
export_link_serve.authentication_classes = []  # type: ignore[attr-defined]


def _cors(
    request: HttpRequest, link: ExportLink, response: HttpResponse | FileResponse
) -> HttpResponse | FileResponse:
    """Let the export's Label Studio origin, and no other, read the answer from a page."""
    patch_vary_headers(response, ["Origin"])
    if link.origin and request.headers.get("Origin") == link.origin:
        response["Access-Control-Allow-Origin"] = link.origin
    return response


def _refused(status: int, message: str) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
