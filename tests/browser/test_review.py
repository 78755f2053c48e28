"""The review page in Chromium: reviewers settle disagreements by keyboard, leads mark gold."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from sklearn.datasets import load_digits

from labeler import flows
from labeler.annotations.models import FinalLabel
from labeler.annotations.services import annotation_withdraw
from labeler.annotations.submit import annotation_record
from labeler.demo.services import digit_png
from labeler.images.models import Image
from labeler.projects.labels import PALETTE
from labeler.projects.models import Label, Project, Role
from tests.browser.conftest import login
from tests.factories import (
    ModelVersionFactory,
    ProjectFactory,
    UserFactory,
    add_member,
    annotation_submit,
    image_bytes,
    predict,
)

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WAIT = 10_000  # ms; generous for a loaded CI machine, never reached when things work


def pets_with_ties(n_split: int) -> tuple[Project, list[Image], Image]:
    """Overlap 2: ann1 and ann2 split on n images (cat against dog) and agree on one."""
    project = ProjectFactory(name="Pets", overlap=2)
    one, two = UserFactory(username="ann1"), UserFactory(username="ann2")
    for user in (one, two):
        add_member(project, user)
    add_member(project, UserFactory(username="rita"), Role.REVIEWER)
    add_member(project, UserFactory(username="lead"), Role.LEAD)
    files = [
        SimpleUploadedFile(f"pet-{i}.png", image_bytes(size=(96, 64))) for i in range(n_split + 1)
    ]
    flows.images_ingest(project=project, files=files)
    images = list(Image.objects.filter(project=project).order_by("pk"))
    for image in images[:n_split]:
        annotation_submit(project=project, annotator=one, image_id=image.pk, labels=["cat"])
        annotation_submit(project=project, annotator=two, image_id=image.pk, labels=["dog"])
    agreed = images[n_split]
    for user in (one, two):
        annotation_submit(project=project, annotator=user, image_id=agreed.pk, labels=["bird"])
    return project, images[:n_split], agreed


def open_review(page, live_server, project, query: str = "") -> None:
    page.goto(f"{live_server.url}/projects/{project.pk}/review/{query}")
    page.wait_for_selector("#stage[data-state=ready], #stage[data-state=empty]", timeout=WAIT)


def shown_image(page) -> int:
    page.wait_for_selector("#stage[data-state=ready]", timeout=WAIT)
    return int(page.locator("#stage").get_attribute("data-image-id"))


def wait_image_decoded(page) -> None:
    page.wait_for_function(
        "(() => { const img = document.querySelector('#stage-frame img');"
        " return !!img && img.complete && img.naturalWidth > 0; })()",
        timeout=WAIT,
    )


def wait_saved(page) -> None:
    page.wait_for_function("window.reviewer.outbox().length === 0", timeout=WAIT)


def test_a_reviewer_resolves_ties_with_the_keyboard(live_server, page, screenshot):
    """Each tie shows both annotators' labels; a key selects, Enter decides, the next follows."""
    project, split, agreed = pets_with_ties(3)
    login(page, live_server, "rita")
    open_review(page, live_server, project)
    expect(page.locator("#left-count")).to_have_text("3")
    expect(page.locator("#left-text")).to_have_text("images left to review")
    expect(page.locator("[data-count=tie]")).to_have_text("3")
    votes = page.locator("#votes li")
    expect(votes).to_have_count(2)
    expect(votes.nth(0)).to_contain_text("ann1")
    expect(votes.nth(0).locator(".chip")).to_have_text("cat")
    expect(votes.nth(1).locator(".chip")).to_have_text("dog")
    expect(page.locator("#reason")).to_contain_text("Tie")
    expect(page.locator("#consensus")).to_contain_text("No label has a majority")
    assert page.locator("#gold-button").count() == 0  # gold is for leads

    decided = {}
    for key, name in zip("232", ["dog", "bird", "dog"], strict=True):
        image_id = shown_image(page)
        page.keyboard.press(key)
        expect(
            page.locator(f"#labels [data-label-id='{label_id(project, name)}']")
        ).to_have_attribute("aria-pressed", "true")
        page.keyboard.press("Enter")
        decided[image_id] = name
    expect(page.locator("#empty")).to_be_visible(timeout=WAIT)
    expect(page.locator("#empty-title")).to_have_text("Nothing to review")
    expect(page.locator("#empty-text")).to_contain_text(
        "fully labelled images are agreed on or decided"
    )
    expect(page.locator("#left-count")).to_have_text("0")
    wait_saved(page)
    screenshot("review-empty", full_page=False)

    assert sorted(decided) == [image.pk for image in split]
    finals = {f.image_id: f for f in FinalLabel.objects.filter(method="adjudicated")}
    assert {i: f.labels.get().name for i, f in finals.items()} == decided
    assert {f.decided_by.username for f in finals.values()} == {"rita"}
    assert agreed.pk not in finals

    # Back to the last decision: it shows as decided; a new key and Enter change it.
    page.keyboard.press("ArrowLeft")
    last = shown_image(page)
    expect(page.locator("#reason")).to_contain_text("Decided")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    wait_saved(page)
    assert FinalLabel.objects.get(image_id=last).labels.get().name == "cat"


def test_enter_without_a_label_on_a_tie_decides_nothing(live_server, page):
    """A tie has no consensus to accept: Enter asks for a label first."""
    project, split, _ = pets_with_ties(1)
    login(page, live_server, "rita")
    open_review(page, live_server, project)
    page.keyboard.press("Enter")
    expect(page.locator("#stage-message")).to_contain_text("Select a label")
    page.keyboard.press("ArrowRight")  # skip: only skipped images are left
    expect(page.locator("#empty-title")).to_have_text("Only skipped images are left")
    page.get_by_role("button", name="Review skipped images again").click()
    assert shown_image(page) == split[0].pk
    assert not FinalLabel.objects.filter(method="adjudicated").exists()


def test_a_lead_marks_gold_from_a_deep_link(live_server, page, screenshot):
    """?image= opens that image first; G marks the selected label as the gold answer."""
    project, split, _ = pets_with_ties(3)
    login(page, live_server, "lead")
    open_review(page, live_server, project, f"?image={split[2].pk}")
    assert shown_image(page) == split[2].pk
    expect(page.locator("#gold-button")).to_be_visible()
    wait_image_decoded(page)
    screenshot("review-lead", full_page=False)
    page.keyboard.press("1")
    page.keyboard.press("G")
    assert shown_image(page) == split[0].pk  # then the queue, from its start
    expect(page.locator("#left-count")).to_have_text("2")
    wait_saved(page)
    final = FinalLabel.objects.get(image=split[2])
    assert (final.method, final.labels.get().name, final.decided_by.username) == (
        "gold",
        "cat",
        "lead",
    )


def test_a_lead_sees_who_changed_an_images_labels_when_from_what_to_what(
    live_server, page, screenshot
):
    """The history under the decision: newest first, each change with its person, its time
    and its labels before and after; the lead's own decision joins it once saved. Names
    are shown as text, never as markup."""
    project, split, _ = pets_with_ties(2)
    image = split[0]
    one = project.memberships.get(user__username="ann1").user
    annotation_submit(project=project, annotator=one, image_id=image.pk, labels=["bird"])
    annotation_submit(project=project, annotator=one, image_id=image.pk, labels=["cat"])
    eve = UserFactory(username="<i>eve</i>")
    add_member(project, eve)
    # A third label on an overlap-2 image, as an import brings it.
    mine, _, _ = annotation_record(
        project=project, annotator=eve, image_id=image.pk, labels=["dog"]
    )
    annotation_withdraw(project=project, annotator=eve, annotation_id=mine.pk)
    login(page, live_server, "lead")
    open_review(page, live_server, project, f"?image={image.pk}")
    rows = page.locator("#history li")
    expect(rows).to_have_count(6, timeout=WAIT)
    expected = [
        ("<i>eve</i>", "took their label back", "dog → nothing"),
        ("<i>eve</i>", "labelled", "nothing → dog"),
        ("ann1", "changed their label", "bird → cat"),
        ("ann1", "changed their label", "cat → bird"),
        ("ann2", "labelled", "nothing → dog"),
        ("ann1", "labelled", "nothing → cat"),
    ]
    for row, (who, what, change) in zip(rows.all(), expected, strict=True):
        assert row.locator(".rv-user").inner_text() == who
        assert what in row.locator(".rv-history-head").inner_text()
        assert " ".join(row.locator(".rv-history-change").inner_text().split()) == change
        assert row.locator("time").get_attribute("datetime")
    assert page.locator("#history i").count() == 0  # the name's markup stayed text
    page.keyboard.press("2")
    page.keyboard.press("Enter")  # decide: dog; the next image follows
    wait_saved(page)
    page.keyboard.press("ArrowLeft")
    assert shown_image(page) == image.pk
    expect(rows).to_have_count(7, timeout=WAIT)
    newest = rows.first
    expect(newest.locator(".rv-user")).to_have_text("lead")
    expect(newest.locator(".rv-history-head")).to_contain_text("set the final label (adjudicated)")
    assert " ".join(newest.locator(".rv-history-change").inner_text().split()) == "nothing → dog"
    wait_image_decoded(page)
    page.locator("#history-section").scroll_into_view_if_needed()
    screenshot("review-history", full_page=False)


def test_filter_by_reason_and_the_model_suggestion(live_server, page, screenshot):
    """Handwritten digits with ties, a low-confidence majority and a model: the docs' picture."""
    project = digits_to_review()
    login(page, live_server, "rita")
    open_review(page, live_server, project)
    expect(page.locator("[data-count=all]")).to_have_text("3")
    expect(page.locator("#model-row")).to_be_visible()
    expect(page.locator("#votes li")).to_have_count(3)
    wait_image_decoded(page)
    screenshot("review", full_page=False)  # docs/img/review.png is a copy of it

    page.get_by_role("button", name="Ties").click()
    expect(page.locator("#left-count")).to_have_text("1")
    expect(page.locator("#left-text")).to_have_text("tie left to review")
    expect(page.locator("#reason")).to_contain_text("Tie")
    page.get_by_role("button", name="Low confidence").click()
    expect(page.locator("#reason")).to_contain_text("Low confidence")
    page.keyboard.press("Enter")  # the majority is selected already: Enter accepts it
    expect(page.locator("#empty-title")).to_have_text("No low-confidence images to review")
    wait_saved(page)
    final = FinalLabel.objects.get(method="adjudicated")
    assert final.labels.get().name == "7"


def digits_to_review() -> Project:
    """Three annotators on handwritten digits: a 7 read as 1 once, a 3 read three ways."""
    project = ProjectFactory(name="Handwritten digits", overlap=3, labels=[])
    for digit in range(10):
        Label.objects.create(
            project=project,
            name=str(digit),
            color=PALETTE[digit],
            hotkey=str(digit),
            position=digit,
        )
    names = ["maria", "jun", "oskar", "ines"]
    users = [UserFactory(username=name) for name in names]
    for user in users:
        add_member(project, user)
    add_member(project, UserFactory(username="rita"), Role.REVIEWER)
    digits = load_digits()
    picks = {"seven": 7, "three": 3, "four": 4}
    indexes = {key: int((digits.target == value).nonzero()[0][5]) for key, value in picks.items()}
    files = [
        SimpleUploadedFile(f"digit-{index:04d}.png", digit_png(digits.images[index]))
        for index in indexes.values()
    ]
    flows.images_ingest(project=project, files=files)
    images = dict(zip(indexes, Image.objects.filter(project=project).order_by("pk"), strict=True))
    votes = {
        "seven": ["7", "1", "7"],  # 2 of 3: below the 0.7 threshold
        "three": ["3", "8", "5"],  # a three-way tie
        "four": ["4", "4", "4", "9"],  # a clear majority that is not unanimous
    }
    for key, labels in votes.items():
        for user, name in zip(users, labels, strict=False):
            annotation_record(  # four raters on an overlap-3 image, as an import brings
                project=project, annotator=user, image_id=images[key].pk, labels=[name]
            )
    model = ModelVersionFactory(project=project, version=3)
    ids = dict(Label.objects.filter(project=project).values_list("name", "pk"))
    predict(model, images["three"], {str(ids["3"]): 0.81, str(ids["8"]): 0.12, str(ids["5"]): 0.07})
    predict(model, images["seven"], {str(ids["7"]): 0.74, str(ids["1"]): 0.26})
    return project


def label_id(project: Project, name: str) -> int:
    return Label.objects.get(project=project, name=name).pk
