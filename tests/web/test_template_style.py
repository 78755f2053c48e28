"""The pages write dates one way, and headings, table headers and buttons in sentence case.

Dates and times: the ``when`` filters (labeler/web/when.py) in templates, ``when`` and
``timeTag`` (static/js/lib/format.js) in scripts; no other date format. Headings, table
headers, buttons (and links that look like one), legends and summaries, in templates and
built by scripts: sentence case ("Export labels", not "Export Labels"), names and
abbreviations apart.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import timezone

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "templates").rglob("*.html")) + sorted(
    (ROOT / "templates").rglob("*.txt")
)
SCRIPTS = sorted((ROOT / "static" / "js").rglob("*.js"))

# Django's own date filters, and the browser's locale formats, each its own format.
OTHER_DATE_FILTERS = re.compile(r"\|\s*(date|time|naturaltime|naturalday|timesince|timeuntil)\b")
OTHER_DATE_SCRIPTS = re.compile(r"toLocale(Date|Time)?String|Intl\.DateTimeFormat")
DATE_HELPERS = ROOT / "static" / "js" / "lib" / "format.js"

# Capitalised inside a heading because they are names or abbreviations.
PROPER = {
    "Cohen's",
    "Fleiss'",
    "Krippendorff's",
    "COCO",
    "CSV",
    "JSON",
    "JSONL",
    "ONNX",
    "API",
    "EXIF",
    "Label",
    "Studio",
    "ImageFolder",
    "Labelbox",
    "YOLO",
    "URL",
    "ID",
    "IDs",
    "GPU",
    "CPU",
    "REST",
    "S3",
    "SHA-256",
    "Hugging",
    "Face",
    "I",
    "OK",
    "PNG",
    "JPEG",
    "HEIC",
    "AVIF",
    "WebP",
    "Django",
    "Celery",
    "Redis",
    "PostgreSQL",
    "SQLite",
    "XMP",
    "IPTC",
    "Pascal",
    "VOC",
    "TSV",
    "ZIP",
    "GB",
    "MB",
    "KB",
    "F1",
    "AUC",
    "ROC",
    "Gmail",
}
HEADING = re.compile(
    r"<(h[1-4]|th|button|summary|legend|caption|a\b[^>]*class=\"[^\"]*\bbutton\b[^>]*)\b[^>]*>"
    r"(.*?)</(?:h[1-4]|th|button|summary|legend|caption|a)>",
    re.S | re.I,
)
# The same elements built by the scripts, with a literal text: el("th", { text: "..." }).
SCRIPT_HEADING = re.compile(
    r"el\(\"(h[1-4]|th|button|summary|legend|caption)\",\s*\{[^}]*?\btext:\s*\"([^\"]+)\""
)


def _segments(markup: str) -> list[str]:
    """A heading's literal words, in runs that each start a sentence: a template tag
    (``{% if %}`` one text ``{% else %}`` another) ends one; variables, tags and the
    keys of keyboard hints (``<kbd>``) are taken out."""
    markup = re.sub(r"<kbd\b.*?</kbd>", " ", markup, flags=re.S | re.I)
    markup = re.sub(r"\{\{.*?\}\}|\{#.*?#\}", " ", markup, flags=re.S)
    markup = re.sub(r"<[^>]+>", " ", markup)
    markup = re.sub(r"&[a-z#0-9]+;", " ", markup)
    runs = re.split(r"\{%.*?%\}", markup, flags=re.S)
    return [" ".join(run.split()) for run in runs if run.strip()]


def _capitalised_words(text: str) -> list[str]:
    """Words after a sentence's first that start with a capital and are no name."""
    wrong = []
    for sentence in re.split(r"(?<=[.:?!])\s+|\s+[·—\u2013/]\s+|[(]", text):
        words = [word for word in sentence.split() if re.search(r"[^\W\d_]", word)]
        for word in words[1:]:
            bare = word.strip(',;:.!?"“”()[]…')
            if bare[:1].isupper() and bare not in PROPER and not bare.isupper():
                wrong.append(bare)
    return wrong


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_templates_write_dates_through_the_when_filters() -> None:
    found = [
        f"{_relative(path)}:{n}: {line.strip()}"
        for path in TEMPLATES
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if OTHER_DATE_FILTERS.search(line)
    ]
    assert not found, "use |when, |when_text or |iso:\n" + "\n".join(found)


def test_scripts_write_dates_through_the_format_helpers() -> None:
    found = [
        f"{_relative(path)}:{n}: {line.strip()}"
        for path in SCRIPTS
        if path != DATE_HELPERS
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if OTHER_DATE_SCRIPTS.search(line)
    ]
    assert not found, "use when() or timeTag() from lib/format.js:\n" + "\n".join(found)


def _title_case_in_markup(markup: str) -> list[str]:
    found = []
    for match in HEADING.finditer(markup):
        for text in _segments(match.group(2)):
            if wrong := _capitalised_words(text):
                found.append(f"<{match.group(1).split()[0]}> {text!r}: {wrong}")
    return found


def _title_case_in_script(source: str) -> list[str]:
    found = []
    for match in SCRIPT_HEADING.finditer(source):
        if wrong := _capitalised_words(match.group(2)):
            found.append(f"{match.group(1)} {match.group(2)!r}: {wrong}")
    return found


def test_headings_table_headers_and_buttons_are_in_sentence_case() -> None:
    found = [
        f"{_relative(path)}: {line}"
        for path in TEMPLATES
        for line in _title_case_in_markup(path.read_text())
    ] + [
        f"{_relative(path)}: {line}"
        for path in SCRIPTS
        for line in _title_case_in_script(path.read_text())
    ]
    assert not found, "sentence case, or add a name to PROPER:\n" + "\n".join(found)


CRUMBS = re.compile(r'<div class="crumbs"[^>]*>(.*?)</div>', re.S)


def _crumbs_lower_case(markup: str) -> list[str]:
    """Each breadcrumb step a page writes (its literal words, not a project's name or an
    id) starts with a capital, as the first one, "Projects", does."""
    found = []
    for match in CRUMBS.finditer(markup):
        for step in re.split(r"\s/\s", match.group(1)):
            for text in _segments(step):
                if text[:1].islower():
                    found.append(text)
    return found


def test_every_breadcrumb_step_starts_with_a_capital() -> None:
    found = [
        f"{_relative(path)}: {text!r}"
        for path in TEMPLATES
        for text in _crumbs_lower_case(path.read_text())
    ]
    assert not found, "breadcrumb steps start with a capital:\n" + "\n".join(found)
    lower = '<div class="crumbs"><a>Projects</a> / {{ p.name }} / <span>models</span></div>'
    assert _crumbs_lower_case(lower) == ["models"]


def test_the_walk_finds_title_case_where_it_looks() -> None:
    markup = (
        '<h2 class="x">Export Labels</h2><th scope="col">Final label</th>'
        '<a class="button primary" href="#">Open Project</a><a href="#">Any Link</a>'
        "<button>{% if a %}Save{% else %}Save Changes{% endif %} <kbd>Enter</kbd></button>"
    )
    assert _title_case_in_markup(markup) == [
        "<h2> 'Export Labels': ['Labels']",
        "<a> 'Open Project': ['Project']",
        "<button> 'Save Changes': ['Changes']",
    ]
    script = 'el("th", { text: "Model Version" }), el("button", { type: "button", text: "Undo" })'
    assert _title_case_in_script(script) == ["th 'Model Version': ['Version']"]


@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("Export Labels", ["Labels"]),
        ("Export labels", []),
        ("Cohen's kappa by COCO class", []),
        ("Members: Who Labels", ["Labels"]),  # "Who" starts a sentence after the colon
        ("Agreement (Krippendorff's alpha)", []),
    ],
)
def test_the_sentence_case_check_itself(text: str, wrong: list[str]) -> None:
    assert _capitalised_words(text) == wrong


def test_the_filters_write_one_format(settings) -> None:
    settings.TIME_ZONE = "Europe/Paris"
    moment = dt.datetime(2026, 11, 26, 12, 52, 7, tzinfo=dt.UTC)
    with timezone.override("Europe/Paris"):
        page = Template("{{ t|when }} {{ t|when_text }} {{ d|when }} {{ d|iso }} {{ n|when }}.")
        out = page.render(Context({"t": moment, "d": dt.date(2026, 11, 26), "n": None}))
    assert out == (
        '<time datetime="2026-11-26T13:52:07+01:00" title="2026-11-26T13:52:07+01:00">'
        "26 Nov 2026, 13:52</time> 26 Nov 2026, 13:52 "
        '<time datetime="2026-11-26" title="2026-11-26">26 Nov 2026</time> 2026-11-26 .'
    )
