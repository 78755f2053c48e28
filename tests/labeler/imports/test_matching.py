"""Files find their labels file's entries the way teams have them: renamed by Label
Studio's upload, in either Unicode form, percent-encoded, or only by their content."""

from __future__ import annotations

import hashlib
import unicodedata

import pytest

from labeler.imports.reading.matching import LabelMatcher, label_hashes, label_studio_upload_name
from labeler.imports.reading.records import AnnotationIn, ImageRecords, Person

NFC = unicodedata.normalize("NFC", "Été-5.png")
NFD = unicodedata.normalize("NFD", "Été-5.png")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        # Checked against Label Studio 1.x on Django 5.2: MultiPartParser, UploadedFile,
        # upload_name_generator and FileSystemStorage.generate_filename, name by name.
        ("holiday photo 4.jpg", "holiday_photo_4.jpg"),
        ("john's portrait in 2004.jpg", "johns_portrait_in_2004.jpg"),
        ("john's (2).jpg", "johns_2.jpg"),
        (" lead.jpg", "_lead.jpg"),  # the prefix comes first: a leading blank stays
        ("trail .jpg ", "trail_.jpg"),
        (NFC, NFC),
        (NFD, "Ete-5.png"),  # a decomposed accent is no letter: it is dropped
        ("a&amp;b.jpg", "ab.jpg"),  # the form's entity unescaped, then "&" dropped
        ("中文 图片.png", "中文_图片.png"),
        ("a\u00a0b.jpg", "ab.jpg"),
        ("dir/sub/y.png", "y.png"),
        ("dir\\w.png", "w.png"),
        ("100%.jpg", "100.jpg"),
        ("a+b=c(1)[2]{3}.jpg", "abc123.jpg"),
        ("emoji😀.png", "emoji.png"),
        ("###.jpg", ".jpg"),
        ("x" * 300 + ".jpeg", "x" * 250 + ".jpeg"),
    ],
)
def test_label_studio_upload_name_is_the_name_label_studio_stores(sent, stored):
    assert label_studio_upload_name(sent) == stored


def test_an_original_file_matches_label_studio_s_renamed_upload():
    matcher = LabelMatcher(
        {
            "1a2b3c4d-holiday_photo_4.jpg": ["beach"],
            "9f8e7d6c-Ete-5.png": ["summer"],
            "0a0b0c0d-johns_portrait_in_2004.jpg": ["person"],
        }
    )

    found = matcher.match("trips/holiday photo 4.jpg")
    assert (found.labels, found.key, found.by) == (
        ["beach"],
        "1a2b3c4d-holiday_photo_4.jpg",
        "upload name",
    )
    # Sent decomposed by the browser, stored without its accents; here composed.
    assert matcher.match(NFC).labels == ["summer"]
    assert matcher.match("john's portrait in 2004.jpg").labels == ["person"]
    assert matcher.match("holiday photo 5.jpg").labels is None


def test_label_studio_s_renaming_applies_only_to_its_uploads():
    """An entry without the upload prefix was not renamed by an upload: a name that
    differs from it is another file."""
    matcher = LabelMatcher({"holiday_photo_4.jpg": ["beach"]})

    assert matcher.match("holiday photo 4.jpg").labels is None


def test_a_file_named_as_written_wins_over_one_label_studio_would_rename_so():
    files = ["a_b.jpg", "a b.jpg"]
    matcher = LabelMatcher({"1a2b3c4d-a_b.jpg": ["cat"]}, files=files)

    assert matcher.match("a_b.jpg").labels == ["cat"]
    renamed = matcher.match("a b.jpg")
    assert renamed.ambiguous and "2 files have it as Label Studio renames uploads" in (
        renamed.reason
    )


def test_two_files_label_studio_renames_alike_are_ambiguous():
    matcher = LabelMatcher({"1a2b3c4d-a_b.jpg": ["cat"]}, files=["x/a b.jpg", "y/a (b).jpg"])

    found = matcher.match("x/a b.jpg")
    assert found.labels is None and found.ambiguous
    assert "'a_b.jpg': 2 files have it" in found.reason
    alone = LabelMatcher({"1a2b3c4d-a_b.jpg": ["cat"]}, files=["x/a b.jpg", "y/a.jpg"])
    assert alone.match("x/a b.jpg").labels == ["cat"]


@pytest.mark.parametrize(("entry", "file"), [(NFC, NFD), (NFD, NFC)])
def test_names_match_whichever_unicode_form_each_side_uses(entry, file):
    matcher = LabelMatcher({f"photos/{entry}": ["summer"], f"1a2b3c4d-{entry}x.png": ["x"]})

    assert matcher.match(f"photos/{file}").by == "path"
    assert matcher.match(f"other/{file}").labels == ["summer"]
    assert matcher.match(f"{file}x.png").labels == ["x"]
    assert matcher.unmatched() == []


def test_the_same_name_in_both_unicode_forms_is_one_name_shared():
    matcher = LabelMatcher({NFC: ["a"], NFD: ["b"]})

    found = matcher.match(NFC)
    assert found.ambiguous and "the labels list it 2 times" in found.reason
    assert matcher.unmatched() == [NFC, NFD]


@pytest.mark.parametrize(
    ("entry", "file"),
    [
        ("dog%20two.png", "dog two.png"),  # a key from a URL, not decoded by its reader
        ("dog two.png", "dog%20two.png"),  # a file saved under its URL's name
        ("%C3%89t%C3%A9-5.png", NFD),
        ("photos/caf%C3%A9.png", "photos/café.png"),
    ],
)
def test_a_percent_encoded_name_matches_its_decoded_name(entry, file):
    matcher = LabelMatcher({entry: ["dog"]})

    assert matcher.match(file).labels == ["dog"]
    assert matcher.unmatched() == []


def test_a_name_as_written_wins_over_a_decoded_one():
    matcher = LabelMatcher({"a%20b.jpg": ["encoded"], "a b.jpg": ["plain"]})

    assert matcher.match("a%20b.jpg").labels == ["encoded"]
    assert matcher.match("a b.jpg").labels == ["plain"]
    assert matcher.match("deep/a%20b.jpg").labels == ["encoded"]


def test_a_file_no_name_matches_finds_its_entry_by_content():
    cat, dog = b"cat bytes", b"dog bytes"
    labels = {"exported/IMG_1.jpg": ["cat"], "exported/IMG_2.jpg": ["dog"]}
    matcher = LabelMatcher(labels, hashes={"exported/IMG_1.jpg": sha256(cat).upper()})

    assert matcher.wants_hash
    found = matcher.match("renamed-by-phone.jpg", sha256(cat))
    assert (found.labels, found.key, found.by) == (["cat"], "exported/IMG_1.jpg", "content")
    missing = matcher.match("other.jpg", sha256(dog))
    assert missing.labels is None and not missing.ambiguous
    assert missing.reason.startswith(
        "No entry of the labels file names this file or carries its content"
    )
    assert matcher.unmatched() == ["exported/IMG_2.jpg"]
    assert not LabelMatcher(labels).wants_hash


def test_the_content_settles_a_name_several_entries_share():
    a, b = b"first", b"second"
    labels = {"a/x.jpg": ["cat"], "b/x.jpg": ["dog"]}
    matcher = LabelMatcher(labels, hashes={"a/x.jpg": sha256(a), "b/x.jpg": sha256(b)})

    assert matcher.match("x.jpg").ambiguous
    assert matcher.match("x.jpg", sha256(b)).labels == ["dog"]
    unknown = matcher.match("x.jpg", sha256(b"third"))
    assert unknown.ambiguous and "Ambiguous file name 'x.jpg'" in unknown.reason


def test_a_name_that_matches_is_kept_whatever_the_content():
    matcher = LabelMatcher({"x.jpg": ["cat"], "y.jpg": ["dog"]}, hashes={"y.jpg": sha256(b"y")})

    assert matcher.match("x.jpg", sha256(b"y")).labels == ["cat"]


def test_content_several_entries_carry_is_ambiguous():
    same = sha256(b"same")
    matcher = LabelMatcher(
        {"p.jpg": ["cat"], "q.jpg": ["dog"]}, hashes={"p.jpg": same, "q.jpg": same}
    )

    found = matcher.match("r.jpg", same)
    assert found.ambiguous and "the labels give this file's sha256 to 'p.jpg', 'q.jpg'" in (
        found.reason
    )


def test_unmatched_lists_the_entries_no_file_took_in_the_labels_order():
    labels = {
        "holiday photo 9.jpg": ["beach"],
        "a/x.jpg": ["cat"],
        "b/x.jpg": ["dog"],
        "kept.jpg": ["bird"],
    }
    matcher = LabelMatcher(labels)
    assert matcher.unmatched() == list(labels)

    assert matcher.match("kept.jpg").labels == ["bird"]
    assert matcher.match("x.jpg").ambiguous  # an ambiguous file takes no entry
    assert matcher.match("nothing.jpg").labels is None

    assert matcher.unmatched() == ["holiday photo 9.jpg", "a/x.jpg", "b/x.jpg"]


def test_an_unmatched_file_says_why_and_which_entry_comes_nearest():
    matcher = LabelMatcher({"IMG-0001.JPEG": ["cat"], "1a2b3c4d-Cafe_2.png": ["dog"]})

    assert matcher.match("zzz.jpg").reason == "No entry of the labels file names this file."
    near = matcher.match("img_0001.jpg")
    assert near.labels is None and not near.ambiguous
    assert near.reason == (
        "No entry of the labels file names this file; the nearest is 'IMG-0001.JPEG' "
        "(the same name but for case, accents, punctuation or extension)."
    )
    assert "'1a2b3c4d-Cafe_2.png'" in matcher.match("café 2.jpg").reason
    assert matcher.match("###.jpg").reason.endswith("names this file.")


def test_values_are_any_type_the_caller_gives():
    alice = Person("ls:1", email="alice@example.org")
    records = ImageRecords(
        [AnnotationIn(alice, ["cat"], where="Task 1: annotation 1")],
        where="Task 1",
        sha256=sha256(b"cat"),
    )
    matcher: LabelMatcher[ImageRecords] = LabelMatcher(
        {"1a2b3c4d-a.jpg": records}, hashes=label_hashes({"1a2b3c4d-a.jpg": records})
    )

    found = matcher.match("renamed.jpg", sha256(b"cat"))
    assert found.labels is records and found.key == "1a2b3c4d-a.jpg"
    assert label_hashes({"x": ["cat"], "y": ImageRecords(), "z": records}) == {"z": records.sha256}


def test_an_entry_named_without_its_extension_matches_the_one_file_with_that_stem():
    matcher = LabelMatcher(
        {"a1b2": ["cat"], "c3d4": ["dog"]}, files=["data/a1b2.jpg", "c3d4.png", "c3d4.jpg"]
    )

    found = matcher.match("data/a1b2.jpg")
    assert (found.labels, found.by) == (["cat"], "stem")
    # Two files share the stem: neither takes the entry.
    twice = matcher.match("c3d4.png")
    assert twice.labels is None and twice.ambiguous
    assert matcher.unmatched() == ["c3d4"]
    # A name with an extension never matches by stem.
    assert LabelMatcher({"a1b2.png": ["cat"]}, files=["a1b2.jpg"]).match("a1b2.jpg").labels is None


def test_two_files_whose_names_differ_only_in_their_accents_composition_take_no_entry():
    composed, decomposed = "\u00c9t\u00e9.png", "E\u0301te\u0301.png"
    matcher = LabelMatcher({composed: ["cat"]}, files=[composed, decomposed])

    for name in (composed, decomposed):
        found = matcher.match(name)
        assert found.labels is None and found.ambiguous
    assert matcher.unmatched() == [composed]
