"""The near-duplicates page: a project's groups of copies, with their thumbnails."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labeler.agreement.duplicate_labels import duplicate_groups_page
from labeler.agreement.review_requests import open_review_image_ids
from labeler.images.counts import image_counts
from labeler.images.delivery.links import file_link
from labeler.images.duplicates.groups import project_max_distance
from labeler.projects import selectors as project_selectors
from labeler.web.pages import page_project, page_user

PAGE_SIZE = 30


@login_required
@require_GET
def duplicates(request: HttpRequest, project_id: int) -> HttpResponse:
    """Near-duplicate groups, largest first, those whose final labels differ marked (and
    said to be in review only while one of their images has an open review request)."""
    project = page_project(request, project_id, oversee=True)
    user = page_user(request)
    raw = request.GET.get("page", "1")
    page = int(raw) if raw.isascii() and raw.isdigit() and int(raw) > 0 else 1
    total, groups = duplicate_groups_page(project, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    # "Sent to review" only while a request is open: labels that differ go to review at
    # the next refresh of the final labels, and a decision resolves the request.
    members = [member.id for group in groups for member in group.images]
    in_review = set(open_review_image_ids(project).filter(image_id__in=members))
    shown = [
        {
            "group": group.group,
            "size": group.size,
            "labels_differ": group.labels_differ,
            "in_review": any(member.id in in_review for member in group.images),
            "images": [
                {
                    "id": member.id,
                    "original_name": member.original_name,
                    "final_labels": member.final_labels,
                    "thumbnail_url": file_link(member.thumbnail, user_id=user.pk)
                    if member.thumbnail
                    else "",
                }
                for member in group.images
            ],
        }
        for group in groups
    ]
    context = {
        "project": project,
        "groups": shown,
        "total": total,
        "page": page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page * PAGE_SIZE < total else None,
        "max_distance": project_max_distance(project),
        # Why there are no groups: nothing to compare, or nothing compared.
        "has_images": bool(total) or image_counts(project.pk).images > 0,
        "can_manage": project_selectors.can_manage(
            user=user,
            project=project,
            role=project_selectors.project_role(user=user, project=project),
        ),
    }
    return render(request, "images/duplicates.html", context)
