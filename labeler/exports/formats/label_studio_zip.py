"""Label Studio tasks with their images, for a Label Studio that serves local files.

The zip holds one folder, ``labeler-<project slug>-<project id>/``, to unzip into Label
Studio's ``LOCAL_FILES_DOCUMENT_ROOT``:

- ``images/<file name>``: every selected image, without its private metadata unless the
  project keeps it in its exports (as every zip: ``members.ZipStream``);
- ``tasks.json``: the label-studio format's tasks, each image named as Label Studio's
  local files storage serves it: ``/data/local-files/?d=<folder>/images/<name>``, the
  path percent-encoded;
- ``README.md``: how to point Label Studio at it.

A file keeps its original name, Unicode and spaces included (NFC), without its folders,
with the characters file systems refuse replaced and its format's extension; a name
already taken in the export (compared without case, as macOS and Windows compare them)
gets the image's id: ``photo-12.jpg``. Names are chosen in image id order, so exporting
again gives every image the same name.
"""

from __future__ import annotations

import json
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from django.utils.text import slugify

from labeler.exports.formats.label_studio import annotator_emails, label_studio_task
from labeler.exports.formats.members import ZipStream
from labeler.exports.formats.source import ExportSource
from labeler.exports.selectors import ImageRow
from labeler.images.face_regions import export_face_boxes
from labeler.images.pixels.files import ALLOWED_FORMATS
from labeler.projects.models import Project

LOCAL_FILES_PATH = "/data/local-files/?d="
# Characters Windows refuses in a name (controls and the separators among them).
_REFUSED = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
# Names Windows keeps for devices.
_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"{kind}{n}" for kind in ("COM", "LPT") for n in range(10)),
}
STEM_MAX_BYTES = 200  # most file systems take 255 bytes a name


def export_label_studio_zip(source: ExportSource) -> Iterator[bytes]:
    """The images as they are read, then tasks.json (spooled meanwhile) and README.md."""
    folder = local_files_folder(source.project)
    emails = annotator_emails(source)
    names = LocalFileNames()
    stream = ZipStream(
        keep_metadata=source.project.export_keep_metadata,
        faces=export_face_boxes(source.project),
    )
    with tempfile.TemporaryFile() as tasks:
        tasks.write(b"[")
        for index, row in enumerate(source.rows()):
            url = row.file_name
            if row.file:
                path = f"{folder}/images/{names.take(row)}"
                yield from stream.add_stored_file(path, row.file, row.format)
                url = LOCAL_FILES_PATH + quote(path, safe="/")
            task = label_studio_task(row, source, image_url=url, emails=emails)
            tasks.write((("," if index else "") + json.dumps(task)).encode())
        tasks.write(b"]\n")
        tasks.seek(0)
        yield from stream.add_file_object(f"{folder}/tasks.json", tasks)
    with tempfile.SpooledTemporaryFile() as readme:
        named = source.options.annotators != "none"
        readme.write(readme_text(folder, source.project, annotators_named=named).encode())
        readme.seek(0)
        yield from stream.add_file_object(f"{folder}/README.md", readme)
    yield from stream.close()


def local_files_folder(project: Project) -> str:
    """The zip's one folder: ``labeler-<project slug>-<project id>``."""
    return f"labeler-{slugify(project.name) or 'project'}-{project.pk}"


class LocalFileNames:
    """Each image's file name in the zip, unique without regard to case."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, row: ImageRow) -> str:
        stem = local_file_stem(row.file_name)
        extension = ALLOWED_FORMATS.get(row.format, "bin")
        name, tries = f"{stem}.{extension}", 0
        while name.casefold() in self._taken:
            tries += 1
            suffix = f"-{row.id}" if tries == 1 else f"-{row.id}-{tries}"
            name = f"{stem}{suffix}.{extension}"
        self._taken.add(name.casefold())
        return name


def local_file_stem(original_name: str) -> str:
    """The original name's last part without its extension, safe on any file system."""
    base = original_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    stem = _REFUSED.sub("_", unicodedata.normalize("NFC", stem)).strip(" .")
    while len(stem.encode()) > STEM_MAX_BYTES:
        stem = stem[:-1].rstrip(" .")
    if stem.upper() in _RESERVED:
        stem += "_"
    return stem or "image"


def readme_text(folder: str, project: Project, *, annotators_named: bool = True) -> str:
    """How to serve the images from Label Studio and import the tasks."""
    people = (
        "Annotators are named by e-mail (`completed_by`); give each one an account in\n"
        "   Label Studio first, with that e-mail (people without one here are named\n"
        "   `<username>@labeler.invalid`), or the import is refused."
        if annotators_named
        else "Annotations name no one: Label Studio credits them to whoever imports them."
    )
    names = project.labels.order_by("position").values_list("name", flat=True)
    choices = "\n".join(f"           <Choice value={quoteattr(name)}/>" for name in names)
    choice = "multiple" if project.multi_label else "single"
    return f"""# {project.name}: Label Studio tasks with their images

This folder holds `images/` and `tasks.json`, whose tasks name each image as Label
Studio's local files storage serves it: `/data/local-files/?d={folder}/images/<name>`.

1. Start Label Studio with local files served from a folder holding this one:

       LOCAL_FILES_SERVING_ENABLED=true
       LOCAL_FILES_DOCUMENT_ROOT=/path/to/root   # unzip the export here

   so that the images lie in `/path/to/root/{folder}/images/`.
2. Create a project whose labelling config names the image `image` and the choices
   `label`, with this project's labels:

       <View>
         <Image name="image" value="$image"/>
         <Choices name="label" toName="image" choice="{choice}">
{choices}
         </Choices>
       </View>

3. In the project's Settings > Cloud Storage, add a source storage of type
   "Local files" with the absolute path `/path/to/root/{folder}/images`. Label Studio
   serves a local file only to members of a project with such a storage. Do not sync
   it: that would add every image again as a task without its labels.
4. {people}
5. Import `tasks.json` (Import in the project, or
   `POST /api/projects/<id>/import` with the file's JSON as the body).
"""
