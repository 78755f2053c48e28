"""Why the queue refuses a label or a lease: conflicts the labelling page explains."""

from __future__ import annotations

from labeler.errors import Conflict, PermissionDenied


class NotHandedOut(Conflict):
    """A new label for an image the queue never handed to the annotator."""

    code = "not_handed_out"


class ImageFull(Conflict):
    """A new label for an image that has all the labels its overlap asks for."""

    code = "image_full"


class LeaseLimit(Conflict):
    """The annotator holds as many live leases as one may."""

    code = "lease_limit"


class QualificationFailed(PermissionDenied):
    """The annotator failed the project's qualification test and waits for a lead."""

    code = "qualification_failed"


class AnnotatorPaused(PermissionDenied):
    """The annotator's rolling gold accuracy fell below the mark; they wait for a lead."""

    code = "annotator_paused"


class QualificationUnavailable(Conflict):
    """A qualification test is due and no gold image is left to ask."""

    code = "qualification_unavailable"


class QualificationImagesOnly(Conflict):
    """The annotator is taking the qualification test: only its images are open to them."""

    code = "test_images_only"


class QualificationNotSkippable(Conflict):
    """A question of the qualification test cannot be skipped: skipping would shorten it."""

    code = "test_not_skippable"


class ImageProblem(Conflict):
    """The image is flagged as a problem: it is not labelled until a lead clears it."""

    code = "image_problem"


class FacesNotBlurred(Conflict):
    """The project blurs faces and this image's are not blurred yet: it is not shown."""

    code = "faces_not_blurred"


class ImageReserved(Conflict):
    """The image is kept for other annotators."""

    code = "image_reserved"


class GridOff(Conflict):
    """A grid page asked of a project that labels one image at a time only."""

    code = "grid_off"
