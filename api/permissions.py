"""Project-scoped access: every view resolves the project and the caller's role first."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib.auth.models import User
from rest_framework.exceptions import NotAuthenticated
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request

from labeler.annotations import blind
from labeler.errors import NotFound, PermissionDenied
from labeler.projects import selectors
from labeler.projects.models import Project


def request_user(request: Request) -> User:
    """The authenticated caller (every API view requires authentication)."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise NotAuthenticated()
    return user


class ProjectScopedView(GenericAPIView):
    """Base of views under /projects/{project_pk}/: the project, the role and the checks.

    A project the caller is not a member of answers 404, so ids reveal nothing.
    """

    @property
    def user(self) -> User:
        return request_user(self.request)

    @cached_property
    def project(self) -> Project:
        return selectors.project_get_visible(
            user=self.user, project_id=int(self.kwargs["project_pk"])
        )

    @cached_property
    def role(self) -> str | None:
        return selectors.project_role(user=self.user, project=self.project)

    @property
    def can_manage(self) -> bool:
        return selectors.can_manage(user=self.user, project=self.project, role=self.role)

    @property
    def sees_all_annotations(self) -> bool:
        return selectors.can_see_all_annotations(user=self.user, role=self.role)

    @cached_property
    def image_view(self) -> blind.ImageView:
        """What the caller may see of the project's images (file names, metadata)."""
        return blind.image_view(user=self.user, project=self.project, role=self.role)

    def get_serializer_context(self) -> dict[str, Any]:
        """DRF's context, with what the caller may see of images (``image_view``): every
        serializer of an image reads it there."""
        context = dict(super().get_serializer_context())
        if not getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            context["image_view"] = self.image_view
        return context

    def require_manager(self) -> None:
        """Only the project's leads and admins pass."""
        if not self.can_manage:
            raise PermissionDenied("Only the project's leads and admins can do this.")

    def require_member(self) -> None:
        """Members of any role and admins pass (resolving the project checks visibility)."""
        self.project  # noqa: B018


class ProjectObjectView(ProjectScopedView):
    """Base of views under /<objects>/{pk}/ outside a project: the project is the object's.

    An object of a project the caller cannot see answers 404, as a missing one does.
    """

    model: Any
    noun = "Object"

    @cached_property
    def object(self) -> Any:
        found = self.model.objects.filter(pk=int(self.kwargs["pk"])).first()
        if found is None:
            raise NotFound(f"{self.noun} {self.kwargs['pk']} does not exist.")
        try:
            selectors.project_get_visible(user=self.user, project_id=found.project_id)
        except NotFound:
            raise NotFound(f"{self.noun} {self.kwargs['pk']} does not exist.") from None
        return found

    @cached_property
    def project(self) -> Project:
        return self.object.project
