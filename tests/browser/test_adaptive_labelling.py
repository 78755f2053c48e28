"""Adaptive overlap on the labelling page in Chromium, as a third annotator sees it.

Two annotators have labelled image A differently, image B alike, and image C not at all.
Under adaptive overlap (2 first, at most 3) a third annotator is served the split A and
the untouched C, never the settled B; under fixed overlap 2 only C.
"""

from __future__ import annotations

import pytest

from labeler import flows
from labeler.agreement.final_labels import final_labels_refresh
from labeler.agreement.review import review_candidates
from labeler.annotations.models import Annotation, FinalLabel
from labeler.images.models import Image
from tests.browser.conftest import csp_refusals, login
from tests.browser.test_label import WAIT, labels_of, make_project, press_when_ready, wait_saved
from tests.factories import UserFactory, annotation_submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# More than any of these tests ever needs: a page that keeps serving images fails, not hangs.
MOST_IMAGES = 6


def split_settled_untouched(*, adaptive: bool):
    """A project of three images (A, B, C) and four annotators, where ann1 and ann2 labelled
    A cat and dog, B both bird, C not at all, through the service the page calls."""
    annotators = [UserFactory(username=f"ann{n}") for n in range(1, 5)]
    project = make_project(3, overlap=2, annotators=annotators)
    if adaptive:
        project = flows.project_update(project=project, overlap_mode="adaptive", overlap_max=3)
    a, b, c = Image.objects.filter(project=project).order_by("pk").values_list("pk", flat=True)
    first, second = annotators[:2]
    for annotator, image_id, label in (
        (first, a, "cat"),
        (second, a, "dog"),
        (first, b, "bird"),
        (second, b, "bird"),
    ):
        annotation_submit(project=project, annotator=annotator, image_id=image_id, labels=[label])
    return project, (a, b, c)


def state_of(image_id: int) -> tuple[int, int, bool]:
    """An image's (annotation_count, extra_annotations, is_complete) as stored."""
    image = Image.objects.get(pk=image_id)
    return image.annotation_count, image.extra_annotations, image.is_complete


def label_all_served(browser, live_server, project, username: str, key: str) -> list[int]:
    """Log in as the annotator in a fresh browser, open the labelling page and label every
    image it shows with the key, until it says nothing is left; returns the images shown,
    in order, read from the stage's data-image-id."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    refused = csp_refusals(page)
    login(page, live_server, username)
    page.goto(f"{live_server.url}/projects/{project.pk}/label/")
    stage = page.locator("#stage")
    shown: list[int] = []
    for _ in range(MOST_IMAGES):
        page.wait_for_selector("#stage[data-state=ready], #stage[data-state=done]", timeout=WAIT)
        if stage.get_attribute("data-state") == "done":
            break
        image_id = press_when_ready(page, key)
        shown.append(image_id)
        page.wait_for_function(
            "(shown) => { const s = document.querySelector('#stage').dataset;"
            " return s.state === 'done' || s.imageId !== String(shown); }",
            arg=image_id,
            timeout=WAIT,
        )
    wait_saved(page)
    assert stage.get_attribute("data-state") == "done"
    assert page.locator("#stage-message").inner_text().startswith("Nothing left for you")
    assert page.evaluate("window.labeler.stats.queued") == shown
    context.close()
    assert refused == [], "the Content-Security-Policy refused something"
    return shown


def test_a_third_annotator_is_served_the_split_image_and_the_new_one_never_the_settled_one(
    live_server, browser
):
    """Adaptive overlap, 2 first and at most 3: ann3 gets A (cat against dog) and C (no
    label yet), never B (bird twice); once both are labelled the page says nothing is left."""
    project, (a, b, c) = split_settled_untouched(adaptive=True)
    assert state_of(a) == (2, 1, False)  # the split asked for a third opinion
    assert state_of(b) == (2, 0, True)  # the agreement settled it

    shown = label_all_served(browser, live_server, project, "ann3", "1")

    assert sorted(shown) == sorted([a, c])
    assert b not in shown
    mine = Annotation.objects.filter(annotator__username="ann3")
    assert {annotation.image_id: labels_of(annotation) for annotation in mine} == {
        a: ["cat"],
        c: ["cat"],
    }


def test_under_fixed_overlap_the_third_annotator_is_served_only_the_new_image(live_server, browser):
    """The same labels under fixed overlap 2: A is as full as B, so ann3 gets C alone."""
    project, (a, b, c) = split_settled_untouched(adaptive=False)
    assert state_of(a) == (2, 0, True)

    shown = label_all_served(browser, live_server, project, "ann3", "1")

    assert shown == [c]
    assert state_of(a) == (2, 0, True) and state_of(b) == (2, 0, True)


def test_the_third_label_completes_the_split_image_and_a_fourth_annotator_never_sees_it(
    live_server, browser
):
    """ann3's cat makes A two against one at the maximum of 3: A is complete and only now
    decided (two thirds is below the review threshold of 0.7, so a person reviews it), and
    ann4 is served C (one label short) but not A."""
    project, (a, b, c) = split_settled_untouched(adaptive=True)
    final_labels_refresh(project=project)
    assert labels_of(FinalLabel.objects.get(image_id=b)) == ["bird"]
    # A split waiting for its third opinion is neither decided nor sent to review early.
    assert not FinalLabel.objects.filter(image_id=a).exists()
    assert review_candidates(project).row_of(a) is None

    assert sorted(label_all_served(browser, live_server, project, "ann3", "1")) == [a, c]

    assert state_of(a) == (3, 1, True)  # still one extra: the maximum allows no fourth
    assert state_of(b) == (2, 0, True)
    assert state_of(c) == (1, 0, False)
    final_labels_refresh(project=project)
    assert not FinalLabel.objects.filter(image_id=a).exists()
    assert review_candidates(project).row_of(a) is not None

    assert label_all_served(browser, live_server, project, "ann4", "1") == [c]
    assert state_of(a) == (3, 1, True)
    assert state_of(c) == (2, 0, True)
    assert not Annotation.objects.filter(annotator__username="ann4").exclude(image_id=c).exists()
