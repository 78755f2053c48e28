"""The registry of slice dimensions: each way of cutting a project's images into slices.

A dimension is one entry: a key, a title, and a function that lists its values with the
images of each. The report cuts the project along every dimension of ``DIMENSIONS``, then
along those each of ``PROVIDERS`` returns for the project: the fields a project defines
for itself give one dimension each (``field_dimensions``: a text or choice field by value,
a date field by month, a number field in ranges of about as many images each). A new
column of the images plugs in as one line, e.g.::

    SliceDimension("origin", "Origin", image_column("origin", empty="No origin"),
                   help="Where the images came from."),

Values are grouped in the database (one row per value, its image ids as one string), so a
dimension costs one query whatever the number of images. Dimensions keep their
``MAX_VALUES`` largest values; the report says how many smaller ones it left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from django.db.models import Aggregate, F, Min, QuerySet, TextField
from django.db.models.functions import TruncMonth, Upper

from labeler.agreement.ratings import Ratings
from labeler.images.models import SOURCES, FieldValue, Image, ImageTag, MetadataField
from labeler.projects.models import Project

Ints = npt.NDArray[np.int64]
MAX_VALUES = 30
# A number field is cut in at most this many ranges, each about as many images.
NUMBER_RANGES = 5


@dataclass(frozen=True)
class SliceValue:
    """One slice: a dimension's value (as stored; "" for none), how it reads, its images."""

    value: str
    name: str
    image_ids: Ints  # sorted


@dataclass(frozen=True)
class Sources:
    """What the report reads once for every dimension: the ratings, the annotators' names,
    and every image id of the project (read when a dimension first asks)."""

    ratings: Ratings
    usernames: dict[int, str] = field(default_factory=dict)
    _read: dict[int, Ints] = field(default_factory=dict, repr=False, compare=False)

    def image_ids(self, project: Project) -> Ints:
        """Every image id of the project (in no order)."""
        if project.pk not in self._read:
            every = Image.objects.filter(project=project).values_list("id", flat=True)
            self._read[project.pk] = np.fromiter(every.iterator(chunk_size=10_000), dtype=np.int64)
        return self._read[project.pk]


Values = Callable[[Project, Sources], list[SliceValue]]
# The Images page's filters that show a slice's images (its query), None where none does.
Browse = Callable[[str], dict[str, str] | None]


def no_filter(value: str) -> None:
    """No filter of the Images page shows these slices' images."""
    return None


@dataclass(frozen=True)
class SliceDimension:
    """One way of cutting the images into slices; ``values`` lists the slices, ``browse``
    names the Images page's filter that shows a slice's images."""

    key: str
    title: str
    values: Values
    help: str = ""
    browse: Browse = no_filter


def browse_by(name: str) -> Browse:
    """The Images page's filter ``name`` set to the slice's value (none for "none")."""

    def browse(value: str) -> dict[str, str] | None:
        return {name: value} if value else None

    return browse


def month_bounds(value: str) -> tuple[dt.date, dt.date]:
    """The first day of a month's slice ("2026-03") and the first day of the next month
    (the calendar's last day for its last month: a date stored before the years a date
    may have were checked, ``labeler.dates_in``, or a capture time shown in a zone ahead)."""
    year, month = (int(part) for part in value.split("-"))
    first = dt.date(year, month, 1)
    if (year, month) == (dt.MAXYEAR, 12):
        return first, dt.date.max
    return first, dt.date(year + month // 12, month % 12 + 1, 1)


def browse_month(value: str) -> dict[str, str] | None:
    """Taken from the first of the month to the first of the next ("2026-03")."""
    if not value:
        return None
    first, following = month_bounds(value)
    return {"captured_after": first.isoformat(), "captured_before": following.isoformat()}


class IdList(Aggregate):
    """The grouped rows' ids as one comma-separated string (parsed by numpy in C)."""

    function = "STRING_AGG"
    template = "%(function)s(CAST(%(expressions)s AS TEXT), ',')"
    output_field = TextField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            function="GROUP_CONCAT",
            template="%(function)s(%(expressions)s, ',')",
        )


def id_values(text: str | None) -> Ints:
    """The ids of an ``IdList`` string, in the order the database listed them."""
    if not text:
        return np.zeros(0, dtype=np.int64)
    return np.fromstring(text, dtype=np.int64, sep=",")


def id_array(text: str | None) -> Ints:
    """The ids of an ``IdList`` string, sorted."""
    return np.sort(id_values(text))


def grouped(
    rows: QuerySet[Any], value: Any, ids: str = "id", *, any_case: bool = False
) -> list[tuple[Any, Ints]]:
    """Each distinct ``value`` (an expression over ``rows``) with the ids of its rows.

    ``any_case``: text values that differ only in case are one (as the Images page's
    filter on them finds them), given as one of the forms written.
    """
    if not any_case:
        found = rows.values(slice_value=value).annotate(slice_ids=IdList(ids)).order_by()
        return [(row["slice_value"], id_array(row["slice_ids"])) for row in found]
    found = rows.values(slice_key=Upper(value)).annotate(slice_value=Min(value))
    found = found.annotate(slice_ids=IdList(ids)).order_by()
    return [(row["slice_value"], id_array(row["slice_ids"])) for row in found]


def image_column(
    column: str, *, empty: str, names: dict[str, str] | None = None, any_case: bool = False
) -> Values:
    """The values of a text column of the image rows ("" or NULL: ``empty``); with
    ``any_case``, values that differ only in case are one slice."""

    def values(project: Project, sources: Sources) -> list[SliceValue]:
        images = Image.objects.filter(project=project)
        found = grouped(images, F(column), any_case=any_case)
        return _merged_blank(
            [
                SliceValue(str(v or ""), (names or {}).get(str(v), str(v)) if v else empty, ids)
                for v, ids in found
            ]
        )

    return values


def capture_month(project: Project, sources: Sources) -> list[SliceValue]:
    """The month each photo was taken (its EXIF or stored capture time), in the server's
    time zone."""
    found = grouped(Image.objects.filter(project=project), TruncMonth("captured_at"))
    return [
        SliceValue(month.strftime("%Y-%m"), month.strftime("%B %Y"), ids)
        if month is not None
        else SliceValue("", "No capture time", ids)
        for month, ids in found
    ]


def tags(project: Project, sources: Sources) -> list[SliceValue]:
    """Each tag with the images carrying it (an image with several is in several slices)."""
    rows = ImageTag.objects.filter(image__project=project)
    return [SliceValue(name, name, ids) for name, ids in grouped(rows, F("name"), "image_id")]


def annotators(project: Project, sources: Sources) -> list[SliceValue]:
    """Each annotator with the images they labelled."""
    ratings = sources.ratings
    rated = ratings.codes >= 0 if ratings.label_sets is None else ratings.label_sets[:, :, 0] >= 0
    return [
        SliceValue(
            str(int(user_id)),
            sources.usernames.get(int(user_id), f"user {int(user_id)}"),
            ratings.image_ids[rated[:, column]],
        )
        for column, user_id in enumerate(ratings.annotator_ids)
    ]


def _merged_blank(values: list[SliceValue]) -> list[SliceValue]:
    """NULL and "" are both "none": one slice."""
    blank = [v for v in values if v.value == ""]
    if len(blank) < 2:
        return values
    ids = np.sort(np.concatenate([v.image_ids for v in blank]))
    return [v for v in values if v.value != ""] + [SliceValue("", blank[0].name, ids)]


DIMENSIONS: tuple[SliceDimension, ...] = (
    SliceDimension("camera", "Camera", image_column("camera", empty="No camera"),
                   help="The camera named in the photo's EXIF.", browse=browse_by("camera")),
    SliceDimension("source", "Source", image_column("source", empty="Unknown",
                                                    names=dict(SOURCES)),
                   help="How the image came in: uploaded, imported, or read in place.",
                   browse=browse_by("source")),
    SliceDimension("origin", "Origin", image_column("origin", empty="No origin", any_case=True),
                   help="Where the images came from: a data set, site, provider or address.",
                   browse=browse_by("origin")),
    SliceDimension("licence", "Licence",
                   image_column("licence", empty="No licence", any_case=True),
                   help="The licence a lead gave the image.", browse=browse_by("licence")),
    SliceDimension("tag", "Tag", tags, help="Each tag; an image with several is in several.",
                   browse=browse_by("tag")),
    SliceDimension("capture_month", "Capture month", capture_month,
                   help="The month the photo was taken.", browse=browse_month),
    SliceDimension("annotator", "Annotator", annotators,
                   help="The images each annotator labelled (labelled by others too).",
                   browse=browse_by("annotator")),
)  # fmt: skip


def field_dimensions(project: Project) -> list[SliceDimension]:
    """One dimension per field the project defines for its images, keyed ``field:<name>``."""
    found = MetadataField.objects.filter(project=project).order_by("name")
    return [
        SliceDimension(
            f"field:{field.name}",
            field.name,
            _FIELD_VALUES[field.kind](field),
            help=f"The project's {field.kind} field {field.name!r}.",
            browse=browse_by_field(field),
        )
        for field in found
    ]


def browse_by_field(field: MetadataField) -> Browse:
    """The Images page's field filters that show a slice's images: the value, the month
    ("2026-03") or the range ("10..20") of the slice."""

    def browse(value: str) -> dict[str, str] | None:
        if not value:
            return None
        if field.kind == "date":
            first, following = month_bounds(value)
            last = following - dt.timedelta(days=1)
            return {"field_min": f"{field.name}:{first}", "field_max": f"{field.name}:{last}"}
        if field.kind == "number":
            low, high = value.split("..")
            return {"field_min": f"{field.name}:{low}", "field_max": f"{field.name}:{high}"}
        return {"field": f"{field.name}:{value}"}

    return browse


def _field_rows(field: MetadataField) -> QuerySet[FieldValue]:
    return FieldValue.objects.filter(field=field)


def _without_value(
    project: Project, sources: Sources, field: MetadataField, having: list[Ints]
) -> list[SliceValue]:
    """The project's images that hold no value of the field, as a slice (none if every
    image holds one)."""
    held = np.concatenate(having) if having else np.zeros(0, dtype=np.int64)
    missing = np.setdiff1d(sources.image_ids(project), held)
    return [SliceValue("", f"No {field.name}", missing)] if missing.size else []


def _field_text(field: MetadataField) -> Values:
    def values(project: Project, sources: Sources) -> list[SliceValue]:
        found = grouped(_field_rows(field), F("text"), "image_id", any_case=True)
        slices = [SliceValue(str(v), str(v), ids) for v, ids in found]
        return [*slices, *_without_value(project, sources, field, [v.image_ids for v in slices])]

    return values


def _field_month(field: MetadataField) -> Values:
    def values(project: Project, sources: Sources) -> list[SliceValue]:
        found = grouped(_field_rows(field), TruncMonth("date"), "image_id")
        slices = [SliceValue(m.strftime("%Y-%m"), m.strftime("%B %Y"), ids) for m, ids in found]
        return [*slices, *_without_value(project, sources, field, [v.image_ids for v in slices])]

    return values


def _field_ranges(field: MetadataField) -> Values:
    def values(project: Project, sources: Sources) -> list[SliceValue]:
        rows = _field_rows(field).values_list("image_id", "number")
        pairs = np.array(list(rows.iterator(chunk_size=10_000)), dtype=np.float64).reshape(-1, 2)
        slices = number_ranges(pairs[:, 0].astype(np.int64), pairs[:, 1])
        return [*slices, *_without_value(project, sources, field, [v.image_ids for v in slices])]

    return values


def number_ranges(image_ids: Ints, numbers: npt.NDArray[np.float64]) -> list[SliceValue]:
    """The images cut in at most ``NUMBER_RANGES`` ranges of their values, about as many
    images each (quantiles; equal values never straddle two ranges); each range's value
    is ``low..high``, both ends held by its images."""
    if numbers.size == 0:
        return []
    order = np.argsort(numbers, kind="stable")
    ids, sorted_numbers = image_ids[order], numbers[order]
    distinct = np.unique(sorted_numbers)
    cuts = np.unique(np.quantile(distinct, np.linspace(0, 1, NUMBER_RANGES + 1)[1:-1]))
    bins = np.searchsorted(cuts, sorted_numbers, side="right")
    found = []
    for b in np.unique(bins):
        inside = bins == b
        low, high = sorted_numbers[inside][0], sorted_numbers[inside][-1]
        # The value is exact (the range filters of its browse link hold its images, the
        # ends included); its name is rounded for reading.
        text = f"{_number_text(low)}..{_number_text(high)}"
        name = f"{_number_text(low, exact=False)} to {_number_text(high, exact=False)}"
        found.append(SliceValue(text, name, np.sort(ids[inside])))
    return found


def _number_text(number: float, *, exact: bool = True) -> str:
    """A whole number without decimals; another as the shortest text that reads back as
    itself (``exact``), or to 6 significant digits."""
    if float(number).is_integer():
        return str(int(number))
    return repr(float(number)) if exact else f"{number:g}"


_FIELD_VALUES: dict[str, Callable[[MetadataField], Values]] = {
    "text": _field_text,
    "choice": _field_text,
    "date": _field_month,
    "number": _field_ranges,
}

# Functions that return a project's own dimensions (one per field it defines).
PROVIDERS: tuple[Callable[[Project], list[SliceDimension]], ...] = (field_dimensions,)


def dimensions_for(project: Project) -> list[SliceDimension]:
    """Every dimension the project is cut along: the registry's, then its own fields'."""
    return [*DIMENSIONS, *(d for provider in PROVIDERS for d in provider(project))]


def largest(values: list[SliceValue]) -> tuple[list[SliceValue], int]:
    """The ``MAX_VALUES`` values with the most images (ties by name), and how many are left."""
    ordered = sorted(values, key=lambda v: (-v.image_ids.size, v.name))
    return ordered[:MAX_VALUES], max(0, len(ordered) - MAX_VALUES)
