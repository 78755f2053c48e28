"""Why the queue refuses a label or a lease: conflicts the labelling page explains."""

from __future__ import annotations

from labeler.errors import Conflict


class NotHandedOut(Conflict):
    """A new label for an image the queue never handed to the annotator."""

    code = "not_handed_out"


class ImageFull(Conflict):
    """A new label for an image that has all the labels its overlap asks for."""

    code = "image_full"


class LeaseLimit(Conflict):
    """The annotator holds as many live leases as one may."""

    code = "lease_limit"
