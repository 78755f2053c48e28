"""What an image's page says of its file: name, size, where it came from, and what its
EXIF, its import and its leads say (origin, camera, capture time, position, licence, tags,
the project's fields), as far as the person looking may see it
(``labeler.annotations.blind``; positions: leads and admins)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from urllib.parse import urlencode

from labeler.annotations.blind import ImageView
from labeler.images.catalogue.selectors import image_fields_of
from labeler.images.models import SOURCES, Image

OSM_ZOOM = 15  # a few streets around the point
SOURCE_NAMES = dict(SOURCES)


@dataclass(frozen=True)
class Position:
    """Where a photo was taken, and a map of it."""

    latitude: float
    longitude: float
    map_url: str

    @property
    def text(self) -> str:
        """Degrees to 5 places (about a metre), with their hemispheres."""
        north = "N" if self.latitude >= 0 else "S"
        east = "E" if self.longitude >= 0 else "W"
        return f"{abs(self.latitude):.5f}° {north}, {abs(self.longitude):.5f}° {east}"


@dataclass(frozen=True)
class FileFacts:
    """An image's file as its page describes it; blank or None where it says nothing."""

    name: str
    width: int
    height: int
    format: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime
    source: str  # how it came: "Uploaded", "Imported from a folder"...
    source_key: str  # the import's path, or the key or path it is read from
    metadata: bool  # whether the rest may be shown to this person
    camera: str = ""
    captured_at: datetime | None = None
    position: Position | None = None
    position_hidden: bool = False  # the file has one, not shown to this person
    licence: str = ""
    tags: tuple[str, ...] = ()
    problem: str = ""
    origin: str = ""
    fields: tuple[tuple[str, str], ...] = ()  # the project's fields with a value: name, text


def map_url(latitude: float, longitude: float) -> str:
    """An OpenStreetMap page with a marker on the point."""
    query = urlencode({"mlat": f"{latitude:.6f}", "mlon": f"{longitude:.6f}"})
    return f"https://www.openstreetmap.org/?{query}#map={OSM_ZOOM}/{latitude:.6f}/{longitude:.6f}"


def file_facts(image: Image, *, view: ImageView, positions: bool) -> FileFacts:
    """What the page shows of ``image``'s file to a person who may see ``view`` of it
    (``positions``: where photos were taken, for leads and admins)."""
    facts = FileFacts(
        name=image.original_name if view.name else "",
        width=image.width,
        height=image.height,
        format=image.format.upper(),
        size_bytes=image.size_bytes,
        sha256=image.sha256,
        uploaded_at=image.created_at,
        source=SOURCE_NAMES.get(image.source, image.source),
        source_key=image.source_key if view.paths else "",
        metadata=view.metadata,
    )
    if not view.metadata:
        return facts
    located = image.gps_latitude is not None and image.gps_longitude is not None
    position = None
    if located and positions:
        lat, lon = float(image.gps_latitude or 0), float(image.gps_longitude or 0)
        position = Position(lat, lon, map_url(lat, lon))
    return replace(
        facts,
        camera=image.camera,
        captured_at=image.captured_at,
        position=position,
        position_hidden=located and not positions,
        licence=image.licence,
        tags=tuple(image.tags.order_by("name").values_list("name", flat=True)),
        problem=image.problem,
        origin=image.origin,
        fields=tuple(
            (name, field_value_text(value)) for name, value in image_fields_of(image).items()
        ),
    )


def field_value_text(value: object) -> str:
    """A field's value as the pages write it: a date as ISO 8601, a whole number without
    its decimals; "" for none."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value.isoformat() if isinstance(value, date) else str(value)
