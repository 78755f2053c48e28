"""Which places a project may read in place: a place another project registered is its own.

The server's allowed roots and buckets (``LABELER_REFERENCE_ROOTS``,
``LABELER_REFERENCE_BUCKETS``) are what an admin approved for every project. Once a
project has registered a folder (or a bucket prefix), that place, what lies inside it and
any place holding it belong to that project: a lead of another project may not register
them, or their images (and so the first project's) would become theirs to read. The
project's own leads and admins may. Every registration goes through ``place_claim_check``
(``reference_register`` calls it), whichever page or route asked.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from labeler.errors import PermissionDenied
from labeler.projects.models import Membership, Project, Role
from labeler.references.models import Reference, ReferenceKind


def place_claim_check(
    *, project: Project, user: User | None, kind: str, where: dict[str, str]
) -> None:
    """Refuse a place that overlaps one another project registered, unless the user is an
    admin or a lead of every such project (``user`` None: the server itself).

    Raises PermissionDenied naming the place, never the other project.
    """
    if user is None or user.is_staff:
        return
    others = _overlapping(kind, where).exclude(project=project)
    led = Membership.objects.filter(user=user, role=Role.LEAD).values("project")
    if others.exclude(project__in=led).exists():
        place = where.get("path") or f"s3://{where.get('bucket', '')}/{where.get('prefix', '')}"
        raise PermissionDenied(
            f"{place} is (or overlaps) a place another project reads its images from; only "
            "that project's leads and admins may register it. Ask an admin.",
            field="path" if kind == ReferenceKind.FOLDER else "bucket",
        )


def _overlapping(kind: str, where: dict[str, str]) -> QuerySet[Reference]:
    """The registrations of this place, of places inside it and of places holding it."""
    if kind == ReferenceKind.FOLDER:
        path = where["path"].rstrip("/") or "/"
        holders = Q(path__in=_ancestors(path))
        inside = Q(path__startswith=path.rstrip("/") + "/")
        return Reference.objects.filter(Q(kind=ReferenceKind.FOLDER) & (holders | inside))
    bucket, prefix = where["bucket"], where.get("prefix", "")
    holders = Q(prefix__in=[prefix[:end] for end in range(len(prefix) + 1)])
    return Reference.objects.filter(kind=ReferenceKind.S3, bucket=bucket).filter(
        holders | Q(prefix__startswith=prefix)
    )


def _ancestors(path: str) -> list[str]:
    """The folder itself and every folder holding it ("/a/b" -> "/a/b", "/a", "/")."""
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:end]) for end in range(len(parts), -1, -1)]
