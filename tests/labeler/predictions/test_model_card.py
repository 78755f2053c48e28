"""The model card from plain data: the training hash, the test figures, the weak slices,
and the Markdown written from it."""

from __future__ import annotations

from labeler.predictions import model_card
from labeler.predictions.model_card_markdown import card_markdown

META = {
    "architecture": "mobilenet_v3_small",
    "label_ids": [7, 3],
    "thresholds": [0.4, 0.6],
    "image_size": 224,
    "grayscale": False,
    "channels": 3,
    "normalisation": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    "multi_label": True,
}
FLAGS = [
    {"dimension": "camera", "dimension_title": "Camera", "name": "Nikon | D70", "question": "model",
     "words": "worse", "p_adjusted": 0.01},
    {"dimension": "annotator", "dimension_title": "Annotator", "name": "lena", "question": "model",
     "words": "worse", "p_adjusted": 0.02},
    {"dimension": "tag", "dimension_title": "Tag", "name": "night", "question": "mix",
     "words": "other mix", "p_adjusted": 0.03},
]  # fmt: skip


def card(**changes):
    options = {
        "facts": {"project": "Birds", "version": 3, "trained_at": "2026-01-02",
                  "packaged_at": "2026-01-03"},
        "meta": META,
        "label_names": {7: "owl", 3: "wren"},
        "training": {"images": 10, "trained": 8, "validated": 2, "date": "2026-01-02",
                     "content_hash": "ab" * 32, "hash_method": "sha256 ...", "reason": None},
        "test": model_card.test_metrics(None, {}),
        "slices": model_card.weak_slices(FLAGS),
        "files": {"onnx": {"name": "model.onnx", "bytes": 10, "sha256": "cd" * 32}},
        "latency": {"onnxruntime_ms": 2.0, "torchscript_ms": 8.5, "runs": 21, "threads": 1,
                    "cpu_count": 2},
    }  # fmt: skip
    return model_card.card_json(**{**options, **changes})


def test_the_training_hash_depends_on_content_and_labels_not_order():
    pairs = [("aa", ["owl"]), ("bb", ["wren", "owl"])]
    same = [("bb", ["owl", "wren"]), ("aa", ["owl"])]
    assert model_card.training_hash(pairs) == model_card.training_hash(same)
    assert model_card.training_hash(pairs) != model_card.training_hash([("aa", ["wren"])])


def test_labels_come_in_the_models_output_order_with_thresholds():
    made = card()
    assert made["labels"] == [{"index": 0, "name": "owl"}, {"index": 1, "name": "wren"}]
    assert made["thresholds"] == {"owl": 0.4, "wren": 0.6}
    assert made["output"]["activation"] == "sigmoid, per label"


def test_weak_slices_are_the_models_and_never_name_annotators():
    slices = card()["weak_slices"]["slices"]
    assert [(s["dimension"], s["slice"]) for s in slices] == [("Camera", "Nikon | D70")]
    assert model_card.weak_slices([])["reason"].startswith("The slice report flags no")
    assert model_card.weak_slices(None, "It failed.") == {"slices": None, "reason": "It failed."}


def test_missing_test_figures_are_null_with_a_reason():
    test = card()["test_metrics"]
    assert test["figures"] is None and "no held-out test images" in test["reason"]


def test_the_markdown_says_it_all_and_keeps_its_tables_whole():
    text = card_markdown(card())
    assert "# Model card: Birds, version 3" in text
    assert "Architecture **MobileNetV3 small (mobilenet_v3_small)**" in text  # as the pages say
    assert "| 0 | owl |" in text and "| 1 | wren |" in text
    assert "- owl: 0.400" in text
    assert "Camera = Nikon \\| D70: worse" in text  # a pipe in a value cannot split a row
    assert "lena" not in text
    assert "ONNX Runtime 2.00 ms, TorchScript 8.50 ms" in text and "on 1 thread of a" in text
    assert "None: This version was scored" in text
