"""Project pages for people: overview with counts, create and edit, members (and linking
an account an import made to the member it stood for)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from labeler import flows
from labeler.annotations.accounts import MoveReport, imported_account
from labeler.annotations.selectors import annotation_counts_by_annotator, project_progress
from labeler.errors import DomainError, ValidationFailed
from labeler.images.pixels.files import ALLOWED_FORMATS
from labeler.imports.applying.accounts import imported_account_link
from labeler.projects import selectors, services
from labeler.projects.hotkeys import DIGITS
from labeler.projects.labels import PALETTE
from labeler.projects.models import Membership, Project, Role
from labeler.web.forms import ARCHITECTURE_CHOICES, MemberAddForm, MemberRoleForm, ProjectForm
from labeler.web.invitations import members_invite_action, members_invite_context
from labeler.web.pages import page_project, page_user
from labeler.words import counted, noun


@login_required
@require_GET
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's overview: labels, counts and where to go next."""
    project = page_project(request, project_id)
    user = page_user(request)
    role = selectors.project_role(user=user, project=project)
    progress = project_progress(project)
    context = {
        "project": project,
        "labels": project.labels.all(),
        "role": role,
        "can_manage": selectors.can_manage(user=user, project=project, role=role),
        "can_oversee": selectors.can_see_all_annotations(user=user, role=role),
        "progress": progress,
        "percent_complete": progress.complete * 100 // progress.images if progress.images else 0,
        "member_count": project.memberships.count(),
    }
    return render(request, "projects/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def project_new(request: HttpRequest) -> HttpResponse:
    """Create a project, its creator its lead, and store the images chosen with it.

    A refused form creates nothing (its files are not kept). Once the project exists, its
    images go through the upload's own ingest, where a bad file never stops the others: the
    project page then lists each file refused and why.
    """
    user = page_user(request)
    if not selectors.can_create_projects(user):
        raise PermissionDenied("Only admins and project creators can create projects.")
    if request.method != "POST":
        return _project_form(request, ProjectForm.blank(), project=None)
    form = ProjectForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            project = services.project_create(creator=user, **form.settings())
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            _images_add(request, project, form.cleaned_data["images"])
            return redirect("project-detail", project.pk)
    return _project_form(request, form, project=None)


MAX_REFUSALS_SHOWN = 20  # refused files the message names one by one


def _images_add(request: HttpRequest, project: Project, files: list[UploadedFile]) -> None:
    """The chosen images stored as the upload page stores them; what came of them said."""
    created = f"Project “{project.name}” created"
    if not files:
        messages.success(request, f"{created}. Next, add its images from the Upload page.")
        return
    results = flows.images_ingest(project=project, files=files)
    added = sum(r.status == "created" for r in results)
    twins = sum(r.status == "duplicate" for r in results)
    said = f"{created} with {counted(added, 'image')}"
    left_out = f" ({counted(twins, 'duplicate')} left out)" if twins else ""
    messages.success(request, f"{said}{left_out}.")
    refused = [r for r in results if r.status == "rejected"]
    if refused:
        shown = "; ".join(
            f"{r.archive + ': ' if r.archive else ''}{r.name} ({r.reason})"
            for r in refused[:MAX_REFUSALS_SHOWN]
        )
        more = len(refused) - MAX_REFUSALS_SHOWN
        messages.error(
            request,
            f"{counted(len(refused), 'file')} {noun(len(refused), 'was', 'were')} not added: "
            f"{shown}"
            f"{f' and {more} more' if more > 0 else ''}.",
        )


@login_required
@require_http_methods(["GET", "POST"])
def project_edit(request: HttpRequest, project_id: int) -> HttpResponse:
    """Edit a project's settings and labels, or delete it after a confirmation."""
    project = page_project(request, project_id, manage=True)
    if request.method != "POST":
        return _project_form(request, ProjectForm.for_project(project), project=project)
    action = request.POST.get("action", "save")
    if action in ("delete", "delete-confirmed"):
        return _project_delete(request, project, confirmed=action == "delete-confirmed")
    form = ProjectForm(request.POST, project=project)
    if form.is_valid():
        try:
            flows.project_update(project=project, **form.settings())
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("project-detail", project.pk)
    return _project_form(request, form, project=project)


def _project_form(request: HttpRequest, form: ProjectForm, project: Project | None) -> HttpResponse:
    """The form page: a refused post answers 400, with each message beside its input."""
    context = {
        "form": form,
        "project": project,
        "essentials": form.setting_fields("essentials"),
        "folds": form.folds(),
        "files_dropped": form.is_bound and bool(request.FILES),
        "label_rows": form["labels"].value() or [],
        "palette": PALETTE,
        "hotkeys": DIGITS,
        "architectures": ARCHITECTURE_CHOICES,
        "formats": ", ".join(sorted(ALLOWED_FORMATS)),
        "max_image_mb": settings.LABELER_MAX_IMAGE_BYTES // (1024 * 1024),
        "max_files": settings.LABELER_MAX_FILES_PER_REQUEST,
    }
    status = 400 if form.is_bound else 200
    return render(request, "projects/form.html", context, status=status)


def _project_delete(request: HttpRequest, project: Project, *, confirmed: bool) -> HttpResponse:
    typed = request.POST.get("confirm_name", "")
    if confirmed and typed.strip() == project.name:
        flows.project_delete(project=project)
        messages.success(request, f"Project “{project.name}” and everything in it were deleted.")
        return redirect("home")
    context = {
        "project": project,
        "progress": project_progress(project),
        "typed": typed,
        "error": "Type the project's name exactly to confirm." if confirmed else "",
    }
    return render(request, "projects/delete.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def project_members(request: HttpRequest, project_id: int) -> HttpResponse:
    """List members; add one by username, change a role, remove one, link an imported
    account to a member."""
    project = page_project(request, project_id, manage=True)
    action = request.POST.get("action", "")
    add_form = MemberAddForm(request.POST if action == "add" else None)
    row_errors: dict[int, str] = {}
    invite_response, invite_forms = members_invite_action(request, project, action)
    if invite_response is not None:
        return invite_response
    if action == "add" and add_form.is_valid():
        try:
            membership, created = services.membership_set(
                project=project,
                user=add_form.cleaned_data["username"],
                role=add_form.cleaned_data["role"],
            )
        except DomainError as exc:
            add_form.add_domain_error(exc)
        else:
            verb = "added as" if created else "is now"
            messages.success(request, f"{membership.user.username} {verb} {membership.role}.")
            return redirect("project-members", project.pk)
    elif action in ("role", "remove", "link"):
        response = _member_change(request, project, action, row_errors)
        if response is not None:
            return response
    return _members_page(request, project, add_form, row_errors, invite_forms)


def _member_change(
    request: HttpRequest, project: Project, action: str, row_errors: dict[int, str]
) -> HttpResponse | None:
    """Change a role or remove a member; a response on success, None with row_errors set."""
    user_id = request.POST.get("user", "")
    membership = (
        selectors.project_membership(project=project, user_id=int(user_id))
        if user_id.isascii() and user_id.isdecimal() and len(user_id) <= 18
        else None
    )
    if membership is None:
        messages.error(request, "That person is not a member of this project (any more).")
        return redirect("project-members", project.pk)
    username = membership.user.username
    try:
        if action == "remove":
            revoked = services.membership_remove(
                membership=membership,
                by=page_user(request),
                keep_links=request.POST.get("keep_links") == "1",
            )
            said = f"{username} was removed from the project."
            if revoked:
                links, them = (
                    ("The open share link was", "it")
                    if revoked == 1
                    else (f"The {revoked} open share links were", "them")
                )
                said += f" {links} revoked, since {username} may have {them}."
                said += " Make a new one for the team below."
            messages.success(request, said)
        elif action == "link":
            return _member_link(request, project, membership)
        else:
            role = _posted_role(request)
            services.membership_set(project=project, user=membership.user, role=role)
            messages.success(request, f"{username} is now {role}.")
    except DomainError as exc:
        row_errors[membership.user_id] = exc.message
        return None
    return _after_member_change(request, project)


def _member_link(request: HttpRequest, project: Project, membership: Membership) -> HttpResponse:
    """Give the chosen member an imported account's labels; what it did (or why not) is
    the page's message."""
    try:
        report = imported_account_link(
            project=project,
            source=membership.user,
            to=request.POST.get("to", ""),
            by=page_user(request),
        )
    except DomainError as exc:
        messages.error(request, f"{membership.user.username} was not linked: {exc.message}")
    else:
        messages.success(request, link_message(report))
    return redirect("project-members", project.pk)


def _posted_role(request: HttpRequest) -> str:
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        raise ValidationFailed(" ".join(str(e) for e in form.errors["role"]), field="role")
    return str(form.cleaned_data["role"])


def _after_member_change(request: HttpRequest, project: Project) -> HttpResponse:
    # A lead who stepped down or left can no longer manage, or even see, the project.
    user = page_user(request)
    role = selectors.project_role(user=user, project=project, fresh=True)
    if selectors.can_manage(user=user, project=project, role=role):
        return redirect("project-members", project.pk)
    if role is not None:
        return redirect("project-detail", project.pk)
    return redirect("home")


MAX_CONFLICTS_SHOWN = 10  # images both labelled that the message names


def link_message(report: MoveReport) -> str:
    """What a link did, in a sentence or three."""
    moved = report.moved
    said = [f"{counted(moved, 'annotation')} of {report.source} moved to {report.target}."]
    if report.decisions_moved:
        said.append(
            f"{counted(report.decisions_moved, 'final label')} now credited to {report.target}."
        )
    if report.conflicts:
        shown = "; ".join(
            f"image {c.image_id} ({report.source}: {', '.join(c.source_labels) or 'none'}, "
            f"{report.target}: {', '.join(c.target_labels) or 'none'})"
            for c in report.conflicts[:MAX_CONFLICTS_SHOWN]
        )
        more = len(report.conflicts) - MAX_CONFLICTS_SHOWN
        said.append(
            f"{counted(len(report.conflicts), 'image')} both labelled "
            f"{noun(len(report.conflicts), 'stays', 'stay')} with {report.source}: "
            f"{shown}{f' and {more} more' if more > 0 else ''}."
        )
    if report.membership_removed:
        said.append(f"{report.source} left the project.")
    return " ".join(said)


ROLE_ORDER: dict[str, int] = {Role.LEAD: 0, Role.REVIEWER: 1, Role.ANNOTATOR: 2}


def _members_page(
    request: HttpRequest,
    project: Project,
    add_form: MemberAddForm,
    row_errors: dict[int, str],
    invite_forms: dict[str, Any],
) -> HttpResponse:
    memberships: list[Membership] = sorted(
        selectors.project_memberships(project),
        key=lambda m: (ROLE_ORDER.get(m.role, 9), m.user.username.casefold()),
    )
    counts = annotation_counts_by_annotator(project)
    rows = [
        {
            "membership": m,
            "annotations": counts.get(m.user_id, 0),
            "error": row_errors.get(m.user_id),
            "imported": imported_account(m.user),
        }
        for m in memberships
    ]
    context = {
        "project": project,
        "rows": rows,
        "add_form": add_form,
        "roles": Role.choices,
        "share_links_open": services.share_links_open(project).count(),
        "link_targets": sorted(
            (m.user.username for m in memberships if m.user.is_active), key=str.casefold
        ),
        **invite_forms,
        **members_invite_context(request, project),
    }
    bound = [add_form, *invite_forms.values()]
    refused = bool(row_errors) or any(form.is_bound and not form.is_valid() for form in bound)
    return render(request, "projects/members.html", context, status=400 if refused else 200)
