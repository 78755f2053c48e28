"""Labels files from other annotation tools, person by person: CVAT's XML ("CVAT for
images 1.1"), a Labelbox export (NDJSON), FiftyOne's image classification dataset
(``labels.json``) and a CSV with a column per annotator.

Each reader takes the file's text (read by ``labeler.imports.reading.loader``: bounded, UTF-8)
and gives a ``RecordsFile``: every annotation credited to the person the tool names, with
the dates and time spent it writes; a decision where the tool carries one (a Labelbox
benchmark is gold, a label a reviewer approved adjudicated; labels that name no one, as
FiftyOne's, are imported final labels); and a ``Skipped`` line with its reason for each
record that gives no image label (boxes and other shapes, a model's tags, a labeller's
skip). A file that cannot be read raises LabelSourceError naming the record (``line 4``,
``Image 'a.jpg'``) and what is wrong with it. Plain Python, no Django.
"""

from labeler.imports.reading.tool_formats.annotator_csv import annotator_columns_records
from labeler.imports.reading.tool_formats.cvat import cvat_xml_records
from labeler.imports.reading.tool_formats.fiftyone import fiftyone_records
from labeler.imports.reading.tool_formats.labelbox import labelbox_ndjson_records

__all__ = [
    "annotator_columns_records",
    "cvat_xml_records",
    "fiftyone_records",
    "labelbox_ndjson_records",
]
