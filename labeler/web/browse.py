"""The Images page (a project's images, filtered, sorted, in keyset pages) and an image's page.

Both read their filters from the address (``labeler.browse``), so a link shows what its
sender saw; an image's page keeps them to step to the previous and next image of the same
list. Reviewers, leads and admins only: annotators label blind.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from labeler.agreement.final_labels import final_labels_fresh
from labeler.annotations import blind
from labeler.annotations.models import FinalLabelMethod
from labeler.browse.details import (
    ImageDetails,
    RowFacts,
    image_details,
    image_neighbours,
    rows_facts,
)
from labeler.browse.filters import FILTERS, ImageFilter, images_filtered, param_values
from labeler.browse.sorts import SORT_CHOICES, Page, images_page
from labeler.dates_in import day_readable
from labeler.errors import DomainError, NotFound
from labeler.images.catalogue.selectors import project_fields
from labeler.images.counts import image_counts
from labeler.images.delivery.links import file_link
from labeler.images.models import MetadataField
from labeler.projects import selectors as project_selectors
from labeler.projects.models import Label, Project
from labeler.web.exports import FORMAT_CHOICES
from labeler.web.image_facts import FileFacts, file_facts
from labeler.web.pages import api_url, page_labels, page_project, page_user

VIEWS = {"grid": 60, "table": 100}  # images a page
PAGE_PARAMETERS = ("sort", "cursor", "view")  # the pages' own, beside the filters
METHODS = dict(FinalLabelMethod.choices)


@login_required
@require_GET
def images_browse(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's images matching the address's filters, a page at a time."""
    project = page_project(request, project_id, oversee=True)
    user = page_user(request)
    view = (param_values(request.GET, "view") or ["grid"])[-1]
    view = view if view in VIEWS else "grid"
    sort = (param_values(request.GET, "sort") or ["id"])[-1]
    error, status = None, 200
    page = Page([], None, None)
    manages = project_selectors.can_manage(
        user=user, project=project, role=project_selectors.project_role(user=user, project=project)
    )
    try:
        images = images_filtered(
            project, request.GET, user=user, reads=PAGE_PARAMETERS, empty_is_none=True
        )
        page = images_page(images, sort=sort, cursor=request.GET.get("cursor"), size=VIEWS[view])
    except DomainError as exc:  # a filter it cannot read or apply, or not for this role
        error, status = exc.message, exc.status_code
    labels = {label.pk: label for label in Label.objects.filter(project=project)}
    context = {
        "project": project,
        "view": view,
        "error": error,
        # An empty page of a project without images says so, not "no image matches".
        "project_empty": not page.images and image_counts(project.pk).images == 0,
        "rows": _rows(project, page, labels, user_id=user.pk, query=_kept(request.GET)),
        "form": _form(project, request.GET, manages=manages),
        "sorts": SORT_CHOICES,
        "sort": sort,
        "export_formats": [(value, title) for value, title, _ in FORMAT_CHOICES],
        "next_url": _with(request.GET, cursor=page.next_cursor) if page.next_cursor else None,
        "previous_url": _with(request.GET, cursor=page.previous_cursor)
        if page.previous_cursor
        else None,
        "grid_url": _with(request.GET, view="grid", cursor=None),
        "table_url": _with(request.GET, view="table", cursor=None),
        "filter_query": _kept(request.GET, drop=("view",)),
        "can_manage": manages,
        "browse_data": {
            "project": project.pk,
            "bulk_url": _bulk_url(project),
            "erasures_url": api_url(project, "erasures") if manages else None,
            # The address of export 0; the script puts the bulk export's id in its place.
            "export_url_template": reverse("api:export-detail", kwargs={"pk": 0}),
            "query": _kept(request.GET, drop=("view",)),
            "labels": page_labels(project),
        },
    }
    return render(request, "images/browse.html", context, status=status)


def _bulk_url(project: Project) -> str | None:
    try:
        return api_url(project, "images-bulk")
    except NoReverseMatch:  # no bulk endpoint in this build
        return None


def _kept(params: QueryDict, drop: tuple[str, ...] = ()) -> str:
    """The address's filters and sort (no cursor), without empty values, as a query string."""
    pairs = [
        (name, value)
        for name in params
        if name not in ("cursor", *drop)
        for value in param_values(params, name)
    ]
    return urlencode(pairs)


def _with(params: QueryDict, **changes: str | None) -> str:
    query = QueryDict(_kept(params), mutable=True)
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = value
    return f"?{query.urlencode()}"


def _label_names(label_ids: list[int], labels: dict[int, Label]) -> list[dict[str, str]]:
    return [
        {"name": labels[pk].name, "color": labels[pk].color} for pk in label_ids if pk in labels
    ]


def _rows(
    project: Project, page: Page, labels: dict[int, Label], *, user_id: int, query: str
) -> list[dict[str, Any]]:
    facts = rows_facts(project, page.images)
    rows = []
    for image in page.images:
        fact = facts[image.pk]
        final = fact.final
        thumbnail = image.thumbnail.name or ""
        statuses = _statuses(image, fact)
        rows.append(
            {
                "image": image,
                "url": reverse("image-page", args=[project.pk, image.pk])
                + (f"?{query}" if query else ""),
                "thumbnail_url": file_link(thumbnail, user_id=user_id) if thumbnail else "",
                "status": statuses[0],
                "statuses": statuses,
                "final": _label_names(final.label_ids, labels) if final else [],
                "final_method": METHODS.get(final.method, "") if final else "",
                "confidence": final.confidence if final else None,
                "predicted": _label_names(fact.predicted, labels),
                "model_confidence": fact.model_confidence,
            }
        )
    return rows


def _statuses(image: Any, fact: RowFacts) -> list[str]:
    """The image's status chips, as the status filter defines them: gold, complete, in
    progress or not started first, then in review and skipped where they hold too."""
    if fact.final and fact.final.method == FinalLabelMethod.GOLD:
        statuses = ["gold"]
    elif image.is_complete:
        statuses = ["complete"]
    else:
        statuses = ["in progress" if image.annotation_count else "not started"]
    if fact.in_review:
        statuses.append("in review")
    if fact.skipped:
        statuses.append("skipped")
    return statuses


def _form(project: Project, params: QueryDict, *, manages: bool) -> list[dict[str, Any]]:
    """The filter form's fields, from the registry, with the address's values: those the
    caller may use, grouped as the registry first names each group."""
    labels = [(label.name, label.name) for label in Label.objects.filter(project=project)]
    annotators = [
        (name, name)
        for name in project.memberships.order_by("user__username").values_list(
            "user__username", flat=True
        )
    ]
    fields = []
    own = list(project_fields(project).values())  # in name order
    for image_filter in FILTERS.values():
        if not image_filter.group or (image_filter.audience == "managers" and not manages):
            continue
        if image_filter.kind == "field":
            fields += _field_inputs(image_filter, own, params)
            continue
        options: tuple[tuple[str, str], ...] | list[tuple[str, str]] = image_filter.choices
        if image_filter.kind == "label":
            options = labels + ([("none", "(none)")] if image_filter.name == "final_label" else [])
        elif image_filter.kind == "user":
            options = annotators
        values = param_values(params, image_filter.name)
        fields.append(
            {
                "name": image_filter.name,
                "label": image_filter.label,
                "help": image_filter.help,
                "kind": image_filter.kind,
                "group": image_filter.group,
                "options": options,
                "checkboxes": image_filter.kind == "choice" and image_filter.many,
                "values": values,
                "value": values[-1] if values else "",
            }
        )
    fields += _kept_inputs(params, fields)
    order = {group: n for n, group in reversed(list(enumerate(f["group"] for f in fields)))}
    # A project field's inputs side by side (its from and to together), fields by name.
    return sorted(fields, key=lambda field: (order[field["group"]], field.get("field", "")))


KEPT_GROUP = "kept"


def _kept_inputs(params: QueryDict, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An input for each of the address's filter values that the form's inputs would not
    send back (a filter with no input here, such as sha256 or a text field's equality
    from a slice's link; a second value of a filter with one input; a value no option
    offers): the form is sent whole when a filter changes, and without these the value
    would be dropped from the address, the images shown and the bulk actions' selection
    then matching more than the lead asked for."""
    sent = Counter(pair for field in fields for pair in _sent(field))
    kept = []
    for name, image_filter in FILTERS.items():
        for value in param_values(params, name):
            if sent[(name, value)]:
                sent[(name, value)] -= 1
                continue
            kept.append(
                {
                    "name": name,
                    "label": image_filter.label,
                    "help": image_filter.help,
                    "kind": KEPT_GROUP,
                    "group": KEPT_GROUP,
                    "options": (),
                    "checkboxes": False,
                    "values": [value],
                    "value": value,
                }
            )
    return kept


def _sent(field: dict[str, Any]) -> list[tuple[str, str]]:
    """The (name, value) pairs an input of the form sends back as the page shows it."""
    name, value = field["name"], field["value"]
    offered = {option for option, _ in field["options"]}
    if field.get("checkboxes", False):
        return [(name, v) for v in field["values"] if v in offered]
    if offered:
        return [(name, value)] if value in offered else []
    if not value or not _input_takes(field.get("input") or field["kind"], value):
        return []
    prefix = field.get("data_field", "")
    return [(name, f"{prefix}:{value}" if prefix else value)]


def _input_takes(kind: str, value: str) -> bool:
    """Whether a number or date input keeps ``value`` (a browser empties one it cannot
    read: a date with a time, a number in hexadecimal)."""
    if kind == "date":
        return day_readable(value)
    if kind in ("number", "integer"):
        try:
            return math.isfinite(float(value)) and "_" not in value
        except ValueError:
            return False
    return True


# Which filter of a project field's the page offers for each kind of field: a choice's
# value, text that a text field contains, and a number's or a date's range.
PAGE_FIELD_FILTERS = {
    "field": ("choice",),
    "field_contains": ("text",),
    "field_min": ("number", "date"),
    "field_max": ("number", "date"),
}
_FIELD_WORDS = {"field": "", "field_contains": "contains", "field_min": "from", "field_max": "to"}


def _field_inputs(
    image_filter: ImageFilter, own: list[MetadataField], params: QueryDict
) -> list[dict[str, Any]]:
    """One input of ``image_filter`` per project field it serves on the page, showing the
    address's value for that field. A choice's options carry the field's name
    (``site:north``); the others carry it in ``data_field``, which the page's script puts
    before the value typed."""
    given: dict[str, str] = {}
    for value in param_values(params, image_filter.name):
        name, _, rest = value.partition(":")
        given[name.strip()] = rest.strip()
    inputs = []
    for field in own:
        if field.kind not in PAGE_FIELD_FILTERS.get(image_filter.name, ()):
            continue
        choice = field.kind == "choice"
        inputs.append(
            {
                "name": image_filter.name,
                "id": f"filter-{image_filter.name}-{field.name}",
                "label": f"{field.name} {_FIELD_WORDS[image_filter.name]}".strip(),
                "help": image_filter.help,
                "kind": "project_field",
                "input": field.kind,
                "group": image_filter.group,
                "field": field.name,
                "data_field": "" if choice else field.name,
                "options": [(f"{field.name}:{c}", c) for c in field.choices] if choice else [],
                "values": [],
                "value": f"{field.name}:{given[field.name]}"
                if choice and field.name in given
                else given.get(field.name, ""),
            }
        )
    return inputs


def _history(details: ImageDetails, names: Any) -> list[dict[str, Any]]:
    """Label changes and review requests (opened, then resolved), oldest first."""
    events: list[dict[str, Any]] = [
        {
            "kind": "change",
            "at": c.created_at,
            "facts": c,
            "from": names(c.from_label_ids),
            "to": names(c.to_label_ids),
        }
        for c in details.history
    ]
    for review in details.reviews:
        events.append({"kind": "review", "at": review.created_at, "review": review})
        if review.resolved_at:
            events.append({"kind": "resolved", "at": review.resolved_at, "review": review})
    return sorted(events, key=lambda event: event["at"])  # stable: ties keep their order


@login_required
@require_GET
def image_page(request: HttpRequest, project_id: int, image_id: int) -> HttpResponse:
    """One image large, with every label, the consensus, the models' predictions and the
    history; the previous and next image of the list it was opened from."""
    project = page_project(request, project_id, oversee=True)
    user = page_user(request)
    role = project_selectors.project_role(user=user, project=project)
    view = blind.image_view(user=user, project=project, role=role)
    manages = project_selectors.can_manage(user=user, project=project, role=role)
    final_labels_fresh(project=project)
    try:
        details = image_details(project, image_id)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    sort = (param_values(request.GET, "sort") or ["id"])[-1]
    query = _kept(request.GET)
    try:
        images = images_filtered(
            project, request.GET, user=user, reads=PAGE_PARAMETERS, empty_is_none=True
        )
        previous_id, next_id = image_neighbours(
            images, sort=sort, image_id=image_id, project=project
        )
        error, status = None, 200
    except DomainError as exc:  # the image shows; the list it was opened from cannot
        previous_id = next_id = None
        error, status = exc.message, exc.status_code
    labels = {label.pk: label for label in Label.objects.filter(project=project)}
    image = details.image

    def link(pk: int | None) -> str | None:
        if pk is None:
            return None
        return reverse("image-page", args=[project.pk, pk]) + (f"?{query}" if query else "")

    def names(ids: list[int]) -> list[dict[str, str]]:
        return _label_names(ids, labels)

    facts = file_facts(image, view=view, positions=manages)
    addresses = blind.image_addresses(
        project_id=project.pk,
        image_id=image.pk,
        file=image.file.name or "",
        display=image.display.name or "",
        thumbnail="",
        user_id=user.pk,
        view=view,
    )
    context = {
        "project": project,
        "image": image,
        "title": blind.image_title(image_id=image.pk, original_name=image.original_name, view=view),
        "file": facts,
        "error": error,
        "annotations": [{"facts": a, "labels": names(a.label_ids)} for a in details.annotations],
        "skipped_by": details.skipped_by,
        "final": details.final,
        "final_labels": names(details.final.label_ids) if details.final else [],
        "final_method": METHODS.get(details.final.method, "") if details.final else "",
        "predictions": [
            {
                "facts": p,
                "rows": [
                    {"label": labels[pk].name, "color": labels[pk].color, "p": prob}
                    for pk, prob in p.probabilities
                    if pk in labels
                ],
            }
            for p in details.predictions
        ],
        "history": _history(details, names),
        "reviews": details.reviews,
        "reserved_for": details.reserved_for,
        "previous_url": link(previous_id),
        "next_url": link(next_id),
        "back_url": reverse("images-browse", args=[project.pk]) + (f"?{query}" if query else ""),
        "image_data": {
            "id": image.pk,
            "original_name": blind.image_name_shown(image.original_name, view),
            "width": image.width,
            "height": image.height,
            "format": image.format,
            "file_url": addresses.file,
            "display_url": addresses.display,
            "metadata_url": api_url(project, "image-detail", pk=image.pk) if manages else None,
            "erasures_url": api_url(project, "erasures") if manages else None,
            "back_url": reverse("images-browse", args=[project.pk]),
        },
        "edit": _metadata_inputs(project, image, facts) if manages else None,
        "faces": _faces_card(project, image, addresses.file) if manages else None,
    }
    return render(request, "images/image.html", context, status=status)


def _faces_card(project: Project, image: Any, original_url: str) -> dict[str, Any] | None:
    """What a lead's Faces card needs where the project blurs faces: the original (a
    lead's address serves it) and the faces API."""
    if not project.blur_faces:
        return None
    return {
        "image_url": original_url,
        "width": image.width,
        "height": image.height,
        "faces_url": api_url(project, "image-faces", image_id=image.pk),
        "detect_url": api_url(project, "image-faces-detect", image_id=image.pk),
    }


def _metadata_inputs(project: Project, image: Any, facts: FileFacts) -> dict[str, Any]:
    """What a lead's form in the File card starts from: the image's metadata as the
    inputs show it (its tags and fields as the File card read them, ``facts``), and the
    project's fields with their values."""
    shown = dict(facts.fields)
    fields = [
        {"field": field, "value": shown.get(field.name, "")}
        for field in project_fields(project).values()
    ]
    captured = image.captured_at
    return {
        "captured_at": captured.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
        if captured
        else "",
        "latitude": "" if image.gps_latitude is None else image.gps_latitude,
        "longitude": "" if image.gps_longitude is None else image.gps_longitude,
        "tags": ", ".join(facts.tags),
        "fields": fields,
    }
