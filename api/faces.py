"""An image's faces in the API: the boxes blurred in its copies, for leads and admins.

``GET`` lists them (deleted ones too, marked), ``POST`` adds a box a lead drew,
``DELETE .../faces/{id}/`` deletes one (a detected box stays deleted when the faces are
found again), ``POST .../faces/detect/`` finds them again. Each change makes the image's
copies again (``labeler.images.face_regions``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.inputs import StrictInput
from api.permissions import ProjectScopedView
from labeler.errors import NotFound, ValidationFailed
from labeler.images import face_regions
from labeler.images.models import FaceRegion, Image


class FaceRegionSerializer(serializers.ModelSerializer):
    """A face's box in the upright original's pixels."""

    class Meta:
        model = FaceRegion
        fields = ["id", "left", "top", "width", "height", "source", "score", "removed"]
        read_only_fields = fields


class FaceRegionInput(StrictInput, serializers.Serializer):
    """A box a lead drew, in the upright original's pixels."""

    left = serializers.IntegerField(min_value=0)
    top = serializers.IntegerField(min_value=0)
    width = serializers.IntegerField(min_value=1)
    height = serializers.IntegerField(min_value=1)


class FacesState(serializers.Serializer):
    """Where the search for an image's faces stands, and its boxes."""

    blur_faces = serializers.BooleanField()
    state = serializers.CharField()
    regions = FaceRegionSerializer(many=True)


class FacesBase(ProjectScopedView):
    """The image of the address, for the project's leads and admins only."""

    def image(self) -> Image:
        """The image of the address; the caller checked first (in the handler, after the
        method, as every view of a project does)."""
        self.require_manager()
        image_id = int(self.kwargs["image_id"])
        found = Image.objects.filter(pk=image_id, project=self.project).first()
        if found is None:
            raise NotFound(f"Image {image_id} is not an image of this project.")
        return found

    def state(self, image: Image) -> Response:
        regions = FaceRegion.objects.filter(image=image)
        body = {
            "blur_faces": self.project.blur_faces,
            "state": image.faces_state,
            "regions": FaceRegionSerializer(regions, many=True).data,
        }
        return Response(body)


class ImageFacesView(FacesBase):
    """An image's face boxes: listed, or one added."""

    serializer_class = FaceRegionInput

    @extend_schema(responses={200: FacesState})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.state(self.image())

    @extend_schema(request=FaceRegionInput, responses={201: FaceRegionSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        image = self.image()
        body = FaceRegionInput(data=request.data)
        body.is_valid(raise_exception=True)
        region = face_regions.face_region_add(image=image, **body.validated_data)
        return Response(FaceRegionSerializer(region).data, status=status.HTTP_201_CREATED)


class ImageFaceView(FacesBase):
    """One face box of an image, deleted."""

    @extend_schema(responses={204: None})
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        image = self.image()
        region = FaceRegion.objects.filter(pk=int(self.kwargs["pk"]), image=image).first()
        if region is None or region.removed:
            raise NotFound(f"Face {self.kwargs['pk']} is not a face box of this image.")
        face_regions.face_region_remove(region=region)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageFacesDetectView(FacesBase):
    """An image's faces found again (boxes a lead deleted stay deleted)."""

    @extend_schema(request=None, responses={202: FacesState})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        image = self.image()
        if not self.project.blur_faces:
            raise ValidationFailed(
                "This project does not blur faces: turn on blur_faces in its settings first."
            )
        face_regions.faces_detect_soon([image.pk])
        image.refresh_from_db()
        response = self.state(image)
        response.status_code = status.HTTP_202_ACCEPTED
        return response
