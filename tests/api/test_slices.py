"""GET /projects/{id}/slices/ and its download: the report for reviewers and leads, as JSON
and as a CSV or JSON file; bad options are 400s that name them."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

import pytest

from labeler.images.catalogue.descriptions import description_read
from labeler.images.catalogue.metadata_fields import field_create
from labeler.images.catalogue.selectors import project_fields
from labeler.images.catalogue.services import images_describe_each
from labeler.images.models import ImageTag
from tests.conftest import client_for
from tests.factories import (
    ModelVersionFactory,
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
)
from tests.labeler.slices.planted import planted_model, planted_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def planted():
    return planted_project(seed=1)


def url(project, tail=""):
    return f"/api/v1/projects/{project.pk}/slices/{tail}"


def test_a_reviewer_reads_the_report_and_an_annotator_is_refused(planted):
    """The flags are in the answer; an annotator gets a 403 that says who may read it."""
    reviewer = UserFactory(username="slice-reviewer")
    add_member(planted.project, reviewer, "reviewer")
    body = client_for(reviewer).get(url(planted.project)).json()
    assert ("camera", "BrokenCam", "labels") in {
        (f["dimension"], f["name"], f["question"]) for f in body["flags"]
    }
    refused = client_for(planted.annotators[0]).get(url(planted.project))
    assert refused.status_code == 403
    assert "reviewers, leads and admins" in refused.json()["detail"]


def test_the_correction_is_chosen_and_a_bad_one_is_a_400_naming_it(planted):
    lead = client_for(planted.lead)
    assert (
        lead.get(url(planted.project) + "?correction=bh").json()["settings"]["correction"]
        == "Benjamini-Hochberg"
    )
    bad = lead.get(url(planted.project) + "?correction=bonferroni")
    assert bad.status_code == 400 and "correction" in bad.json()["errors"]
    wrong_file = lead.get(url(planted.project, "download/") + "?file=xlsx")
    assert wrong_file.status_code == 400 and "file" in wrong_file.json()["errors"]
    # The report is of the whole project: a filter left in its address, or an option
    # given twice, is refused rather than quietly passed over.
    for query, name in (("tag=night", "tag"), ("correction=holm&correction=bh", "correction")):
        for tail in ("", "download/"):
            refused = lead.get(url(planted.project, tail) + f"?{query}")
            assert refused.status_code == 400 and name in refused.json()["errors"], query


def test_the_csv_has_a_row_per_slice_and_quotes_formulas(planted):
    """Header with a count per label; the whole project first; a tag that starts like a
    spreadsheet formula is quoted; the file is an attachment."""
    image = planted.images["OtherCam"][0]
    ImageTag.objects.create(image=image, name="=HYPERLINK(1)")
    answer = client_for(planted.lead).get(url(planted.project, "download/"))
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    assert 'filename="slices-project-' in answer["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.content.decode())))
    assert {"count:cat", "count:dog", "count:bird", "kappa_value", "labels_p_adjusted"} <= set(
        rows[0]
    )
    assert rows[0]["slice"] == "All images" and rows[0]["images"] == "180"
    broken = next(r for r in rows if r["dimension"] == "camera" and r["slice"] == "BrokenCam")
    assert broken["labels_flagged"] == "True" and float(broken["kappa_value"]) < 0.5
    tags = {r["slice"] for r in rows if r["dimension"] == "tag"}
    assert "'=HYPERLINK(1)" in tags and "=HYPERLINK(1)" not in tags


def test_the_json_file_is_the_report(planted):
    lead = client_for(planted.lead)
    answer = lead.get(url(planted.project, "download/") + "?file=json")
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == lead.get(url(planted.project)).json()


def test_a_version_is_chosen_by_id_and_another_projects_is_a_400(planted):
    """?version= picks the model whose figures are shown; one of another project, or none,
    is refused naming the field; the CSV carries the model's columns."""
    version = planted_model(planted, fails_on="CleanCam", current=False)
    lead = client_for(planted.lead)
    body = lead.get(url(planted.project) + f"?version={version.pk}").json()
    assert body["model"]["version"]["id"] == version.pk
    elsewhere = ModelVersionFactory(project=ProjectFactory(name="Elsewhere"))
    for bad in (elsewhere.pk, 999999, "v1"):
        answer = lead.get(url(planted.project) + f"?version={bad}")
        assert answer.status_code == 400 and "version" in answer.json()["errors"], bad
    table = lead.get(url(planted.project, "download/") + f"?version={version.pk}")
    rows = list(csv.DictReader(io.StringIO(table.content.decode())))
    clean = next(r for r in rows if r["dimension"] == "camera" and r["slice"] == "CleanCam")
    assert clean["model_flagged"] == "True" and clean["accuracy_n_items"] == "30"


def test_every_slices_link_finds_exactly_its_images(project, lead, annotator, make_images):
    """Each slice's Images page filters, read by the bulk count every selection reads, hold
    as many images as the slice: a number range at its exact ends (they were rounded), a
    value written in two cases one slice as the filters find it, text beyond ASCII."""
    field_create(project=project, name="age", kind="number")
    field_create(project=project, name="note", kind="text")
    images = make_images(project, 6)
    rows = [
        ("Kaggle", "Canon", "CC0", "2024-01-05", 1.2345678, "Straße"),
        ("kaggle", "Nikon", "cc0", "2024-01-20", 2.3456749, "straße"),
        ("Straße", "Canon", "", "2024-02-01", 123456.78, "ﬁle"),
        ("Straße", "", "BY", None, 1e-7, "=cmd()"),
        ("", "Sony", "BY", "2024-03-09", 7, None),
        ("a&b=c#d", "Nikon", "", None, None, "x:y"),
    ]
    fields = project_fields(project)
    changes = [
        (
            image.pk,
            description_read(
                {
                    "origin": origin,
                    "camera": camera,
                    "licence": licence,
                    "captured_at": taken,
                    "tags": [f"batch {n % 2}"],
                    "fields": {"age": age, "note": note},
                },
                fields=fields,
            ),
        )
        for n, (image, (origin, camera, licence, taken, age, note)) in enumerate(
            zip(images, rows, strict=True)
        )
    ]
    images_describe_each(project=project, changes=changes)
    annotation_submit(project=project, annotator=annotator, image_id=images[0].pk, labels=["cat"])
    client = client_for(lead)
    report = client.get(url(project)).json()
    linked = 0
    for dimension in report["dimensions"]:
        for part in dimension["slices"]:
            if part["browse"] is None:
                continue
            query = urlencode(part["browse"])
            answer = client.get(f"/api/v1/projects/{project.pk}/images/bulk/", {"filter": query})
            assert answer.json() == {"count": part["n_images"]}, (dimension["key"], part)
            linked += 1
    origins = {s["name"]: s["n_images"] for s in _dimension(report, "origin")}
    assert origins == {"Kaggle": 2, "Straße": 2, "a&b=c#d": 1, "No origin": 1}
    assert linked >= 20


def _dimension(report, key):
    return next(d for d in report["dimensions"] if d["key"] == key)["slices"]
