"""What an export holds: one frozen set of options, parsed from a query string or JSON body."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from django.utils import timezone

from labeler.dates_in import day_readable, moment_read
from labeler.errors import ValidationFailed

FORMATS = (
    "json",
    "jsonl",
    "csv",
    "coco",
    "imagefolder",
    "hf-imagefolder",
    "label-studio",
    "label-studio-zip",
)
FINAL_ONLY_FORMATS = ("imagefolder", "hf-imagefolder")
# The archives read by dataset tools, which skip HEIC, AVIF and GIF files: converted there.
CONVERTING_FORMATS = FINAL_ONLY_FORMATS
DEFAULT_FINAL_FORMATS = ("coco", *FINAL_ONLY_FORMATS)
LABEL_STUDIO_FORMATS = ("label-studio", "label-studio-zip")
PREDICTION_FORMATS = ("json", "jsonl", *LABEL_STUDIO_FORMATS)
# How Label Studio tasks name their annotators: by e-mail, or not at all (Label Studio
# then credits every annotation to whoever imports the file).
ANNOTATORS = ("email", "none")
# Where the label-studio format points its images: signed addresses anyone holding them
# may load until they expire, or the REST API's file route (a member's token needed).
IMAGE_URLS = ("signed", "api")
LINK_DAYS_DEFAULT = 7
LINK_DAYS_MAX = 30
ORIGIN_MAX = 200
SPLIT_NAMES = ("train", "val", "test")
# The split option's other value: the project's own train/validation/test assignment.
PROJECT_SPLIT = "project"
TRUE = {"1", "true", "yes", "on"}
# Not "": an option given empty is refused, as every other option is, not taken as false.
FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class ExportOptions:
    """The format and the selection of one export; every field already checked."""

    format: str = "json"
    annotations: str = "all"
    min_confidence: float | None = None
    min_agreement: float | None = None
    reviewed_only: bool = False
    # Shares of a seeded split, or PROJECT_SPLIT: the project's own assignment.
    split: tuple[float, ...] | str | None = None
    seed: int = 0
    annotator: str | None = None
    label: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    predictions: bool = False
    # Exactly these images (a selection on the Images page); None: every image.
    image_ids: tuple[int, ...] | None = None
    # Label Studio formats only (None elsewhere; their defaults are filled in by the parser).
    annotators: str | None = None
    image_urls: str | None = None
    link_expiry_days: int | None = None
    label_studio_origin: str | None = None
    # ImageFolder and Hugging Face zips only (None elsewhere; true unless asked otherwise):
    # HEIC and AVIF written as JPEG, GIF as PNG.
    convert_images: bool | None = None

    @property
    def final_only(self) -> bool:
        return self.annotations == "final"

    @property
    def split_by_project(self) -> bool:
        return self.split == PROJECT_SPLIT

    @property
    def split_shares(self) -> tuple[float, ...] | None:
        return self.split if isinstance(self.split, tuple) else None

    @property
    def split_names(self) -> tuple[str, ...]:
        """The splits the export may hold, in order (none without a split)."""
        if self.split_by_project:
            return SPLIT_NAMES
        return SPLIT_NAMES[: len(self.split_shares or ())]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values that parse back to the same options."""
        data = asdict(self)
        shares = self.split_shares
        data["split"] = list(shares) if shares else self.split
        if self.split_by_project:
            del data["seed"]  # no seed with the project's own split (the parser refuses one)
        if self.image_ids is None:
            del data["image_ids"]
        else:
            data["image_ids"] = list(self.image_ids)
        for name in ("since", "until"):
            data[name] = data[name].isoformat() if data[name] else None
        return data


def export_options_parse(data: Any) -> ExportOptions:
    """Check every option (query parameters or a JSON body) and build the options.

    Raises ValidationFailed naming the first bad field.
    """
    if not isinstance(data, Mapping):
        raise ValidationFailed("Send the options as one JSON object.", field="options")
    unknown = sorted(set(data) - set(PARSERS))
    if unknown:
        raise ValidationFailed(
            f"Unknown export option {unknown[0]!r}; known: {', '.join(PARSERS)}.",
            field=unknown[0],
        )
    values = {
        name: parse(_single(data, name), name)
        for name, parse in PARSERS.items()
        if _single(data, name) is not None
    }
    if values.get("split") == PROJECT_SPLIT and "seed" in values:
        raise ValidationFailed(
            f"seed is for a split by shares; split={PROJECT_SPLIT} is the project's own, "
            "drawn once: leave seed out.",
            field="seed",
        )
    fmt = values.setdefault("format", "json")
    values.setdefault("annotations", "final" if fmt in DEFAULT_FINAL_FORMATS else "all")
    if fmt in LABEL_STUDIO_FORMATS:
        values.setdefault("annotators", "email")
    if fmt in CONVERTING_FORMATS:
        values.setdefault("convert_images", True)
    if fmt == "label-studio" and values.setdefault("image_urls", "signed") == "signed":
        values.setdefault("link_expiry_days", LINK_DAYS_DEFAULT)
    options = ExportOptions(**values)
    _check_combination(options)
    return options


def _single(data: Mapping[str, Any], name: str) -> Any:
    """The one value of a name (a query string may repeat it: the last one counts)."""
    getlist = getattr(data, "getlist", None)
    if getlist is not None:
        items = getlist(name)
        return items[-1] if items else None
    return data.get(name)


def _check_combination(options: ExportOptions) -> None:
    if options.format in FINAL_ONLY_FORMATS and not options.final_only:
        raise ValidationFailed(
            f"The {options.format} format holds final labels only: use annotations=final.",
            field="annotations",
        )
    if options.predictions and options.format not in PREDICTION_FORMATS:
        raise ValidationFailed(
            f"Predictions can be included in {', '.join(PREDICTION_FORMATS)} only.",
            field="predictions",
        )
    if options.since and options.until and options.until < options.since:
        raise ValidationFailed("until must not be before since.", field="until")
    if options.convert_images is not None and options.format not in CONVERTING_FORMATS:
        raise ValidationFailed(
            f"convert_images applies to {' and '.join(CONVERTING_FORMATS)} only "
            "(the other formats keep each image in its own format).",
            field="convert_images",
        )
    _check_label_studio(options)


def _check_label_studio(options: ExportOptions) -> None:
    """The Label Studio options go with the formats (and the image links) they shape."""
    if options.annotators is not None and options.format not in LABEL_STUDIO_FORMATS:
        raise ValidationFailed(
            f"annotators applies to {' and '.join(LABEL_STUDIO_FORMATS)} only.",
            field="annotators",
        )
    if options.image_urls is not None and options.format != "label-studio":
        raise ValidationFailed(
            "image_urls applies to label-studio only (label-studio-zip holds the images).",
            field="image_urls",
        )
    for name in ("link_expiry_days", "label_studio_origin"):
        if getattr(options, name) is not None and options.image_urls != "signed":
            raise ValidationFailed(
                f"{name} applies to label-studio's signed image links only (image_urls=signed).",
                field=name,
            )


def _choice(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def parse(value: Any, field: str) -> str:
        if value not in choices:
            raise ValidationFailed(
                f"Unknown {field} {value!r}; choose one of {', '.join(choices)}.", field=field
            )
        return str(value)

    return parse


def _share(value: Any, field: str) -> float:
    """A number from 0 to 1."""
    number = _number(value, field)
    if not 0.0 <= number <= 1.0:
        raise ValidationFailed(f"{field} must be between 0 and 1, not {value!r}.", field=field)
    return number


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise ValidationFailed(f"{field} must be a number, not {value!r}.", field=field)
    try:
        number = float(value)
    except OverflowError:  # a JSON integer past a float's range
        number = math.inf
    except (TypeError, ValueError):
        raise ValidationFailed(f"{field} must be a number, not {value!r}.", field=field) from None
    if not math.isfinite(number):
        raise ValidationFailed(f"{field} must be a finite number.", field=field)
    return number


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise ValidationFailed(f"{field} must be true or false, not {value!r}.", field=field)


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValidationFailed(f"{field} must be an integer, not {value!r}.", field=field)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{field} must be an integer, not {value!r}.", field=field) from None
    if abs(number) >= 2**63:
        raise ValidationFailed(f"{field} is too large.", field=field)
    return number


def _split(value: Any, field: str) -> tuple[float, ...] | str:
    """Two or three shares summing to 1: "0.8,0.2" or [0.8, 0.1, 0.1]; or "project": the
    project's own train/validation/test assignment."""
    if value == PROJECT_SPLIT:
        return PROJECT_SPLIT
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or len(items) not in (2, 3):
        raise ValidationFailed(
            f"{field} takes 2 or 3 shares (train, val[, test]) such as 0.8,0.1,0.1, or "
            f"{PROJECT_SPLIT}: the project's own train, validation and test images.",
            field=field,
        )
    shares = tuple(_share(item.strip() if isinstance(item, str) else item, field) for item in items)
    if not math.isclose(sum(shares), 1.0, abs_tol=1e-6):
        raise ValidationFailed(
            f"The {field} shares must sum to 1, not {sum(shares):g}.", field=field
        )
    return shares


def _image_ids(value: Any, field: str) -> tuple[int, ...]:
    """Image ids: a list, or "1,2,3" in a query string; sorted, each once."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ValidationFailed(f"{field} takes a non-empty list of image ids.", field=field)
    ids = {_int(item.strip() if isinstance(item, str) else item, field) for item in items}
    if min(ids) <= 0:
        raise ValidationFailed(f"{field} holds an id out of range.", field=field)
    return tuple(sorted(ids))


def _link_days(value: Any, field: str) -> int:
    """How many days signed image links work: 1 to LINK_DAYS_MAX."""
    days = _int(value, field)
    if not 1 <= days <= LINK_DAYS_MAX:
        raise ValidationFailed(
            f"{field} must be from 1 to {LINK_DAYS_MAX} days, not {value!r}.", field=field
        )
    return days


def _origin(value: Any, field: str) -> str:
    """An http(s) origin as a browser sends it in ``Origin``: ``scheme://host[:port]``,
    lower case, its default port left out; a path, query, fragment or user name is
    refused (a trailing "/" is taken off)."""
    text = value.strip() if isinstance(value, str) else ""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (
        parts is None
        or len(text) > ORIGIN_MAX
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or not text.isascii()
        or not text.isprintable()
    ):
        raise ValidationFailed(
            f"{field} must be the http(s) origin of a Label Studio server, such as "
            f"https://labelstudio.example.org or http://localhost:8080, not {value!r}.",
            field=field,
        )
    scheme = parts.scheme.lower()
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default_port = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, default_port) else "")


def _name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 150:
        raise ValidationFailed(f"{field} must be a name, not {value!r}.", field=field)
    return value.strip()


def _moment(value: Any, field: str) -> dt.datetime:
    """An ISO date (its start; for until, its end) or datetime, in the site's zone if naive;
    handed on in UTC. Read by ``labeler.dates_in`` (its years included)."""
    if not isinstance(value, str):
        raise ValidationFailed(
            f"{field} must be an ISO date or datetime (2026-01-31 or 2026-01-31T12:00), "
            f"not {value!r}.",
            field=field,
        )
    until = field == "until"
    zone = timezone.get_current_timezone()
    moment = moment_read(value, field=field, zone=zone, day_end=until)
    if until and day_readable(value):  # through the day's end: until compares with <=
        moment -= dt.timedelta(microseconds=1)
    return moment


PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "format": _choice(FORMATS),
    "annotations": _choice(("all", "final")),
    "min_confidence": _share,
    "min_agreement": _share,
    "reviewed_only": _bool,
    "split": _split,
    "seed": _int,
    "annotator": _name,
    "label": _name,
    "since": _moment,
    "until": _moment,
    "predictions": _bool,
    "image_ids": _image_ids,
    "annotators": _choice(ANNOTATORS),
    "image_urls": _choice(IMAGE_URLS),
    "link_expiry_days": _link_days,
    "label_studio_origin": _origin,
    "convert_images": _bool,
}
