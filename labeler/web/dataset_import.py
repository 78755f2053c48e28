"""The import page: a labelled dataset as a zip, in two steps.

"Check" reads the archive and its labels and shows what an import would do: the counts
in, whose account each person of the labels file would take (the lead confirms it or
chooses another, before anything is written) and every record that would not apply. The
archive waits server-side meanwhile (``labeler.imports.stash``). "Import" runs it with the
lead's choices and reports the counts in and out, the people, each record not applied
and each file's fate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from labeler.errors import DomainError, ValidationFailed
from labeler.flows import images_import
from labeler.imports.planning.archive import (
    archive_import_plan,
    archive_labels_in,
    archive_not_applied,
)
from labeler.imports.planning.labels_in import LABELS_AS, LabelsIn, NotApplied, PersonOut
from labeler.imports.planning.people import CHOSEN, EMAIL, USERNAME
from labeler.imports.planning.plan import ImportOptions, metadata_checked, per_person_check
from labeler.imports.planning.preview import people_out, people_preview
from labeler.imports.reading.archive import LABEL_FORMATS, ArchiveContents, archive_read
from labeler.imports.reading.records import Person
from labeler.imports.report import HOW_SAID
from labeler.imports.stash import Stash, stash_drop, stash_keep, stash_open, stash_purge
from labeler.projects.models import Membership, Project
from labeler.web.pages import page_project, page_user

LABELS_AS_NAMES = {
    "final": "Final labels (the images are done)",
    "gold": "Gold labels (to check annotators against)",
    "annotation": "One more annotator's labels",
}
NEW = "new"  # the choice of an account of the person's own
MAX_PEOPLE = 10_000  # people read from one form


class ArchiveImportForm(forms.Form):
    """What the page sends; the archive and the labels are judged by the import itself."""

    archive = forms.FileField()
    labels_format = forms.ChoiceField(choices=list(LABEL_FORMATS.items()))
    labels_file = forms.FileField(required=False)
    labels_as = forms.ChoiceField(choices=[(k, LABELS_AS_NAMES[k]) for k in LABELS_AS])
    annotator = forms.CharField(max_length=150, required=False)
    create_labels = forms.BooleanField(required=False)

    def clean_archive(self) -> Any:
        archive = self.cleaned_data["archive"]
        limit = settings.LABELER_MAX_ARCHIVE_BYTES
        if archive.size is not None and archive.size > limit:
            raise forms.ValidationError(f"The archive is over {limit:,} bytes.")
        return archive

    def add_domain_error(self, exc: DomainError) -> None:
        self.add_error(exc.field if exc.field in self.fields else None, exc.message)


@dataclass
class PersonRow:
    """A person of the labels file as the check shows them: how they matched, and the
    choice preselected (a member's username, ``new``, or ``""``: the lead must choose)."""

    number: int
    key: str
    shown: str
    account: str
    how: str
    choice: str
    says: str = ""  # what of the file's the member as matched contradicts, if anything
    confirmed: bool = False

    @property
    def said(self) -> str:
        return HOW_SAID.get(self.how, self.how)


@dataclass
class Check:
    """What the check found, and what the page needs to ask for the import."""

    stash: str
    options: dict[str, Any]
    counts_in: dict[str, int]
    not_applied: list[NotApplied]
    people: list[PersonRow] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    problem: str = ""


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request: HttpRequest, project_id: int) -> HttpResponse:
    """Check a zip of images and its labels, then import it once the lead confirms."""
    project = page_project(request, project_id, manage=True)
    if request.method == "POST" and "stash" in request.POST:
        return _import_step(request, project)
    form = ArchiveImportForm(
        request.POST or None, request.FILES or None, initial={"labels_as": "final"}
    )
    if request.method == "POST":
        return _check_step(request, project, form)
    return _page(request, project, form=form)


def _check_step(request: HttpRequest, project: Project, form: ArchiveImportForm) -> HttpResponse:
    """Read the archive and its labels, keep them, and show what an import would do."""
    if not form.is_valid():
        return _page(request, project, form=form, status=400)
    data = form.cleaned_data
    options = {k: data[k] for k in ("labels_format", "labels_as", "annotator", "create_labels")}
    options["archive_name"] = data["archive"].name
    try:
        contents = archive_read(
            data["archive"], labels_format=data["labels_format"], labels_file=data["labels_file"]
        )
        per_person_check(
            archive_labels_in(contents, data["labels_as"]),
            labels_as=data["labels_as"],
            annotator=data["annotator"],
        )
        metadata_checked(project, contents.metadata)  # a value that does not fit: said now
    except DomainError as exc:
        form.add_domain_error(exc)
        return _page(request, project, form=form, status=400)
    stash_purge()
    stash_id = stash_keep(
        project=project,
        user=page_user(request),
        archive=data["archive"],
        labels_file=data["labels_file"],
        options=options,
    )
    return _page(request, project, check=_check(project, contents, stash_id, options))


def _import_step(request: HttpRequest, project: Project) -> HttpResponse:
    """Import the kept archive with the lead's choice of accounts; report what it did."""
    user = page_user(request)
    stash_id = request.POST.get("stash", "")
    try:
        stash = stash_open(project=project, user=user, stash_id=stash_id)
    except ValidationFailed as exc:
        return _form_error(request, project, exc.message)
    chosen = _chosen(request.POST)
    confirmed = request.POST.getlist("person-confirmed")
    try:
        summary = _stash_import(project, user, stash, _stash_read(stash), chosen, confirmed)
    except DomainError as exc:  # nothing was written: the choices are asked for again
        try:
            check = _check(
                project,
                _stash_read(stash),
                stash_id,
                stash.options,
                chosen=chosen,
                confirmed=confirmed,
            )
        except DomainError as unread:  # the kept archive no longer reads: start again
            stash_drop(project=project, user=user, stash_id=stash_id)
            return _form_error(request, project, unread.message)
        check.problem = exc.message
        return _page(request, project, check=check, status=400)
    finally:
        stash.close()
    stash_drop(project=project, user=user, stash_id=stash_id)
    return _page(request, project, summary=summary, options=stash.options)


def _form_error(request: HttpRequest, project: Project, message: str) -> HttpResponse:
    """The first step again, saying why the second could not go on."""
    return _page(request, project, error=message, status=400)


def _stash_read(stash: Stash) -> ArchiveContents:
    """The kept archive, read afresh (each reading's matcher counts what it took)."""
    stash.archive.seek(0)
    options = stash.options
    return archive_read(
        stash.archive, labels_format=options["labels_format"], labels_file=stash.labels_file
    )


def _stash_import(
    project: Project,
    user: User,
    stash: Stash,
    contents: ArchiveContents,
    chosen: Mapping[str, str],
    confirmed: Sequence[str],
) -> Any:
    """Import the kept archive with the lead's choices of accounts that differ from how
    each person matches now."""
    options = stash.options
    labels_in = archive_labels_in(contents, options["labels_as"])
    people = labels_in.people if labels_in is not None else []
    plan = archive_import_plan(
        project=project,
        archive=stash.archive,
        contents=contents,
        options=ImportOptions(
            labels_as=options["labels_as"],
            annotator=options["annotator"] or None,
            create_labels=options["create_labels"],
            annotators=_changed(project, people, chosen) or None,
            people_confirmed=list(confirmed) or None,
        ),
    )
    return images_import(plan=plan, actor=user)


def _check(
    project: Project,
    contents: ArchiveContents,
    stash_id: str,
    options: dict[str, Any],
    *,
    chosen: Mapping[str, str] | None = None,
    confirmed: Sequence[str] = (),
) -> Check:
    """The check's findings: the counts in, what would not apply and the people, each
    with the choice preselected (as matched, or as the lead chose before) and what of the
    file's that choice contradicts, for the lead to confirm."""
    labels_in = archive_labels_in(contents, options["labels_as"])
    unpeopled = replace(labels_in, people=[]) if labels_in is not None else None
    files = contents.files
    counts_in = (unpeopled or LabelsIn()).counts(files)
    not_applied = list(archive_not_applied(contents, unpeopled))
    people = labels_in.people if labels_in is not None else []
    matched, problem = people_preview(project=project, people=people)
    flagged = _contradictions(project, people, chosen or {}, confirmed)
    rows = [
        PersonRow(
            n,
            m.key,
            m.shown,
            m.account,
            m.how,
            (chosen or {}).get(m.key, _choice(m)),
            *flagged.get(m.key, ("", False)),
        )
        for n, m in enumerate(matched)
    ]
    return Check(
        stash=stash_id,
        options=options,
        counts_in=counts_in,
        not_applied=not_applied,
        people=rows,
        members=_member_names(project) if rows else [],
        problem=problem,
    )


def _contradictions(
    project: Project, people: Sequence[Person], chosen: Mapping[str, str], confirmed: Sequence[str]
) -> dict[str, tuple[str, bool]]:
    """By person key: what of the file's their account (as chosen) contradicts, and
    whether the lead confirmed it; none where the choices are refused as a whole."""
    try:
        _, found = people_out(
            project=project,
            people=people,
            chosen=_changed(project, people, chosen) or None,
            confirmed=confirmed,
        )
    except ValidationFailed:
        return {}
    return {c.key: (c.says, c.confirmed) for c in found}


def _choice(match: PersonOut) -> str:
    """What the select shows for a person as matched: the member, or their own account."""
    if match.how in (EMAIL, USERNAME, CHOSEN):
        return match.account
    return NEW if match.how else ""


def _chosen(post: QueryDict) -> dict[str, str]:
    """The lead's choices from the form: person key -> member's username or ``new``."""
    chosen = {}
    for number in range(MAX_PEOPLE):
        key = post.get(f"person-{number}-key")
        if key is None:
            break
        value = post.get(f"person-{number}", "").strip()
        if value:
            chosen[key] = value
    return chosen


def _changed(
    project: Project, people: Sequence[Person], chosen: Mapping[str, str]
) -> dict[str, str]:
    """The choices that differ from how each person matches now: those the import is told
    (a person left as matched keeps how they matched, and the report says so)."""
    if not chosen:
        return {}
    matched, _ = people_preview(project=project, people=people)
    now = {m.key: _choice(m) for m in matched}
    return {key: value for key, value in chosen.items() if now.get(key) != value}


def _member_names(project: Project) -> list[str]:
    """The project's active members, by username: whom a person may be given to."""
    rows = Membership.objects.filter(project=project, user__is_active=True)
    return sorted(rows.values_list("user__username", flat=True), key=str.casefold)


def _page(
    request: HttpRequest,
    project: Project,
    *,
    form: ArchiveImportForm | None = None,
    check: Check | None = None,
    summary: Any = None,
    options: dict[str, Any] | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    chosen = (check.options if check else options) or {}
    context = {
        "project": project,
        "form": form or ArchiveImportForm(initial={"labels_as": "final"}),
        "check": check,
        "error": error,
        "summary": summary,
        "counts": summary.counts() if summary is not None else None,
        "report_people": [
            {**asdict(person), "said": HOW_SAID.get(person.how, person.how)}
            for person in (summary.people if summary is not None else [])
        ],
        "format_title": LABEL_FORMATS.get(chosen.get("labels_format", ""), ""),
        "labels_as_title": LABELS_AS_NAMES.get(chosen.get("labels_as", ""), ""),
    }
    return render(request, "projects/import.html", context, status=status)
