"""A project's fields page: the metadata fields its leads declare for its images (site,
device, age band...), each with its kind and how many images have a value; add one,
rename it, change a choice field's choices, remove it.

Leads and admins only. The rules are the images layer's (``metadata_fields``); a refused
form answers 400 with the page and the reason beside the field it is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from labeler.errors import DomainError, ValidationFailed
from labeler.images.catalogue import metadata_fields
from labeler.images.catalogue.metadata_keys import FIELD_NAME_RULE
from labeler.images.catalogue.selectors import fields_counted, metadata_field_get
from labeler.images.models import FIELD_KINDS
from labeler.projects.models import Project
from labeler.web.forms import DomainForm
from labeler.web.pages import page_project
from labeler.words import counted

KIND_WORDS = {
    "text": "Free text, up to 255 characters",
    "number": "A number (ranges filter it)",
    "date": "A date (ranges filter it)",
    "choice": "One of the choices you list",
}


def choices_split(text: str, *, kept: Sequence[str] = ()) -> list[str]:
    """The choices typed in a box: one a line (commas separate them too). A line that is
    one of ``kept`` (the field's choices as the box showed them, one a line) is that
    choice whole: a choice set over REST may hold a comma."""
    whole = set(kept)
    return [
        part.strip()
        for line in text.splitlines()
        for part in ([line] if line.strip() in whole else line.split(","))
        if part.strip()
    ]


class FieldAddForm(DomainForm):
    """Declare a field: its name, kind and, for a choice field, its choices."""

    name = forms.CharField(max_length=40, help_text=f"Use {FIELD_NAME_RULE}.")
    kind = forms.ChoiceField(choices=FIELD_KINDS, initial="text")
    choices = forms.CharField(required=False, max_length=20_000, widget=forms.Textarea)


class FieldChangeForm(DomainForm):
    """Rename a field, or change a choice field's choices."""

    name = forms.CharField(max_length=40)
    choices = forms.CharField(required=False, max_length=20_000, widget=forms.Textarea)


@login_required
@require_http_methods(["GET", "POST"])
def fields_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's fields, and the forms that add, change and remove them."""
    project = page_project(request, project_id, manage=True)
    action = request.POST.get("action", "")
    add_form = FieldAddForm(request.POST if action == "add" else None)
    row_errors: dict[int, str] = {}
    if action == "add" and add_form.is_valid():
        data = add_form.cleaned_data
        try:
            field = metadata_fields.field_create(
                project=project,
                name=data["name"],
                kind=data["kind"],
                choices=choices_split(data["choices"]) if data["kind"] == "choice" else None,
            )
        except DomainError as exc:
            add_form.add_domain_error(exc)
        else:
            messages.success(request, f"Field {field.name} added.")
            return redirect("project-fields", project.pk)
    elif action in ("change", "remove"):
        response = _field_change(request, project, action, row_errors)
        if response is not None:
            return response
    refused = bool(add_form.errors or row_errors)
    return _page(request, project, add_form, row_errors, status=400 if refused else 200)


def _field_change(
    request: HttpRequest, project: Project, action: str, row_errors: dict[int, str]
) -> HttpResponse | None:
    """Change or remove the posted field: a redirect when done, None with the reason in
    ``row_errors``."""
    raw = request.POST.get("field", "")
    if not (raw.isascii() and raw.isdecimal() and len(raw) <= 18):
        messages.error(request, "That field is not one of this project's (any more).")
        return redirect("project-fields", project.pk)
    try:
        field = metadata_field_get(project, int(raw))
    except DomainError:
        messages.error(request, "That field is not one of this project's (any more).")
        return redirect("project-fields", project.pk)
    try:
        if action == "remove":
            removed = metadata_fields.field_delete(field=field)
            messages.success(
                request, f"Field {field.name} removed, with {counted(removed, 'value')}."
            )
        else:
            form = FieldChangeForm(request.POST)
            if not form.is_valid():
                first = next(iter(form.errors.values()))
                raise ValidationFailed(" ".join(str(error) for error in first), field="name")
            data = form.cleaned_data
            choices = (
                choices_split(data["choices"], kept=field.choices)
                if field.kind == "choice"
                else None
            )
            field = metadata_fields.field_update(field=field, name=data["name"], choices=choices)
            messages.success(request, f"Field {field.name} saved.")
    except DomainError as exc:
        row_errors[field.pk] = exc.message
        return None
    return redirect("project-fields", project.pk)


def _page(
    request: HttpRequest,
    project: Project,
    add_form: FieldAddForm,
    row_errors: dict[int, str],
    *,
    status: int = 200,
) -> HttpResponse:
    rows: list[dict[str, Any]] = [
        {
            "field": field,
            "choices_text": "\n".join(field.choices),
            "error": row_errors.get(field.pk, ""),
        }
        for field in fields_counted(project)
    ]
    context = {
        "project": project,
        "rows": rows,
        "add_form": add_form,
        "kinds": [(kind, name, KIND_WORDS[kind]) for kind, name in FIELD_KINDS],
        "name_rule": FIELD_NAME_RULE,
    }
    return render(request, "projects/fields.html", context, status=status)
