"""Agreement with the consensus counts an image whose raters tied as not agreeing, and
says how many tied: two annotators who disagree cannot both agree with it 100 %."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from django.urls import reverse

from labeler.agreement import metrics
from labeler.agreement.consensus import consensus_reference
from labeler.agreement.metrics.counts import TIED
from labeler.agreement.selectors import agreement_compute
from labeler.agreement.throughput import annotator_throughput
from labeler.projects.models import Role
from tests.factories import ProjectFactory, UserFactory, add_member, annotation_submit

NAMES = ["cat", "dog", "bird", "fish"]


def overlap_two(rng: np.random.Generator) -> np.ndarray:
    """40 images labelled by two annotators (4 categories), who disagree on 8 of them."""
    first = rng.permutation(np.arange(40) % 4)
    second = first.copy()
    differ = rng.choice(40, 8, replace=False)
    second[differ] = (first[differ] + rng.integers(1, 4, 8)) % 4
    return np.stack([first, second], axis=1)


def test_two_annotators_who_disagree_on_8_of_40_agree_with_the_consensus_80_percent():
    codes = overlap_two(np.random.default_rng(0))
    reference = consensus_reference(codes, 4, "majority")
    assert (reference == TIED).sum() == 8
    figures = metrics.per_annotator(codes, 4, reference)
    for annotator in figures:
        assert annotator.kappa_with_others.value == pytest.approx(0.73, abs=0.02)
        assert annotator.consensus_accuracy.value == pytest.approx(0.8)
        assert annotator.consensus_accuracy.n_items == 40
        assert annotator.consensus_ties == 8
        # Kappa needs a category: it is over the 32 images that have one.
        assert (annotator.consensus_kappa.value, annotator.consensus_kappa.n_items) == (1.0, 32)
    (group,) = metrics.pairs_by_group(codes, 4, reference, np.zeros(40, np.int64), 1)
    for raw in group.annotators:
        assert (raw.with_reference.value, raw.with_reference.n_items) == (pytest.approx(0.8), 40)


def test_an_annotator_whose_every_image_tied_has_a_share_and_no_kappa():
    codes = np.array([[0, 1], [1, 2]])
    reference = consensus_reference(codes, 3, "majority")
    first = metrics.per_annotator(codes, 3, reference)[0]
    assert (first.consensus_accuracy.value, first.consensus_accuracy.n_items) == (0.0, 2)
    assert first.consensus_kappa.value is None and "tied" in (first.consensus_kappa.reason or "")


def test_a_dawid_skene_consensus_never_ties():
    codes = overlap_two(np.random.default_rng(1))
    assert (consensus_reference(codes, 4, "dawid_skene") >= 0).all()


@pytest.mark.django_db
def test_the_report_the_throughput_and_its_csv_say_the_figure_and_its_n(client, lead, make_images):
    """The reported project: the dashboard's report, the throughput rows and the CSV give
    80 % over 40 images, 8 of them tied, for both annotators."""
    project = ProjectFactory(name="Pairs", overlap=2, labels=NAMES)
    add_member(project, lead, Role.LEAD)
    people = [UserFactory(username=name) for name in ("ana", "ben")]
    for user in people:
        add_member(project, user, Role.ANNOTATOR)
    codes = overlap_two(np.random.default_rng(0))
    images = make_images(project, 40)
    for image, pair in zip(images, codes.tolist(), strict=True):
        for user, code in zip(people, pair, strict=True):
            annotation_submit(
                project=project, annotator=user, image_id=image.pk, labels=[NAMES[code]]
            )
    report = agreement_compute(project)
    for row in report["per_annotator"]:
        assert row["consensus_accuracy"]["value"] == pytest.approx(0.8)
        assert row["consensus_accuracy"]["n_items"] == 40 and row["consensus_ties"] == 8
    rows = annotator_throughput(project, period="month")
    found = [(r.consensus_n, r.consensus_agreed, r.consensus_ties) for r in rows]
    assert found == [(40, 32, 8)] * 2
    client.force_login(lead)
    url = reverse("project-throughput", args=[project.pk])
    page = client.get(url, {"period": "month"}).content.decode()
    assert page.count("80%") == 2 and page.count("n=40, 8 tied") == 2
    lines = list(csv.DictReader(io.StringIO(client.get(url, {"format": "csv"}).content.decode())))
    assert {(r["consensus_n"], r["consensus_agreement"], r["consensus_ties"]) for r in lines} == {
        ("40", "0.8", "8")
    }
