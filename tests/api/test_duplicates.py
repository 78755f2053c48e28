"""Near-duplicate groups over REST and in the data browser's filters; a group whose final
labels differ goes to review."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from labeler import flows
from labeler.agreement.duplicate_labels import REASON, duplicate_reviews_request
from labeler.agreement.models import ReviewRequest
from labeler.browse.filters import images_filtered
from labeler.errors import ValidationFailed
from labeler.images.models import Image
from tests.labeler.exports.data import finalise
from tests.labeler.images.scenes import COPIES, encoded, scene

URL = "/api/v1/projects/{}/duplicates/"


@pytest.fixture
def planted(project, media_root, settings, django_capture_on_commit_callbacks):
    """Two pictures with two copies each, and one picture alone, through the real ingest."""
    settings.LABELER_DUPLICATE_DISTANCE = 7
    files = {}
    for seed in (1, 2):
        picture = scene(seed, (320, 240))
        files[f"p{seed}.png"] = encoded(picture)
        files[f"p{seed}-small.jpg"] = encoded(COPIES["resized"](picture), "JPEG")
        files[f"p{seed}-dull.png"] = encoded(COPIES["recoloured"](picture))
    files["alone.png"] = encoded(scene(3, (320, 240)))
    with django_capture_on_commit_callbacks(execute=True):
        results = flows.images_ingest(
            project=project, files=[SimpleUploadedFile(n, d) for n, d in files.items()]
        )
    return {r.name: Image.objects.get(pk=r.image_id or 0) for r in results}


@pytest.mark.django_db
def test_leads_list_the_groups_with_thumbnails_and_labels(project, lead, api_as, planted):
    finalise(planted["p1.png"], ["cat"])
    finalise(planted["p1-small.jpg"], ["dog"])
    finalise(planted["p2.png"], ["cat"])
    response = api_as(lead).get(URL.format(project.pk))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["count"], body["max_distance"]) == (2, 7)
    groups = {g["group"]: g for g in body["results"]}
    first, second = planted["p1.png"].pk, planted["p2.png"].pk
    assert set(groups) == {first, second}
    assert groups[first]["labels_differ"] and not groups[second]["labels_differ"]
    names = {i["original_name"]: i for i in groups[first]["images"]}
    assert set(names) == {"p1.png", "p1-small.jpg", "p1-dull.png"}
    assert names["p1.png"]["final_labels"] == ["cat"]
    assert names["p1-dull.png"]["final_labels"] is None
    assert all(i["thumbnail_url"].startswith("http") for i in names.values())

    page = api_as(lead).get(URL.format(project.pk), {"page_size": 1, "page": 2}).json()
    assert page["count"] == 2 and len(page["results"]) == 1


@pytest.mark.django_db
def test_annotators_and_bad_pages_are_refused(project, lead, annotator, api_as, planted):
    assert api_as(annotator).get(URL.format(project.pk)).status_code == 403
    for params in ({"page": "0"}, {"page_size": "500"}, {"page": "x"}):
        response = api_as(lead).get(URL.format(project.pk), params)
        assert response.status_code == 400, params
        assert next(iter(params)) in response.content.decode()


@pytest.mark.django_db
def test_a_group_whose_final_labels_differ_goes_to_review_once(project, planted):
    finalise(planted["p1.png"], ["cat"])
    finalise(planted["p1-small.jpg"], ["dog"])
    finalise(planted["p2.png"], ["cat"])
    finalise(planted["p2-dull.png"], ["cat"])
    assert duplicate_reviews_request(project=project) == 2
    assert duplicate_reviews_request(project=project) == 0  # still open: not filed again
    requests = ReviewRequest.objects.filter(reason=REASON)
    assert {r.image_id for r in requests} == {planted["p1.png"].pk, planted["p1-small.jpg"].pk}
    detail = requests.first().detail  # type: ignore[union-attr]
    assert detail["group"] == planted["p1.png"].pk
    assert sorted(detail["labels"].values()) == [["cat"], ["dog"]]


@pytest.mark.django_db
def test_the_browser_filters_by_group(project, lead, planted):
    def names(**params: str) -> set[str]:
        chosen = images_filtered(project, {k: [v] for k, v in params.items()}, user=lead)
        return set(chosen.values_list("original_name", flat=True))

    assert names(has_duplicates="false") == {"alone.png"}
    assert len(names(has_duplicates="true")) == 6
    group = str(planted["p2.png"].pk)
    assert names(duplicate_group=group) == {"p2.png", "p2-small.jpg", "p2-dull.png"}
    for bad in ({"has_duplicates": "maybe"}, {"duplicate_group": "-3"}):
        with pytest.raises(ValidationFailed):
            names(**bad)


@pytest.mark.django_db
def test_the_refresh_of_final_labels_files_the_requests(project, planted):
    """People's decisions that differ within a group: the agreement refresh sends the
    group to review, as the review queue's REST shows."""
    finalise(planted["p2.png"], ["cat"], method="adjudicated", confidence=None)
    finalise(planted["p2-small.jpg"], ["bird"], method="adjudicated", confidence=None)
    flows.agreement_refresh(project=project)
    filed = ReviewRequest.objects.filter(reason=REASON, resolved_at__isnull=True)
    assert {r.image_id for r in filed} == {planted["p2.png"].pk, planted["p2-small.jpg"].pk}
