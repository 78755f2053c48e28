"""Training: it learns, stops early, restores the best epoch, cancels and is seeded."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labeler.predictions.training_choice import TrainingFacts, training_config_resolve
from labeler.predictions.training_config import training_config_clean
from tests.worker.ml.conftest import quadrant_images, tiny_config
from tests.worker.ml.shapes import shape_images
from worker.ml import architectures, batch_norm, training
from worker.ml.data import to_model_input


def fit(toy, config, on_epoch=lambda log: True, multi_label=False, num_labels=3):
    return training.fit(
        **toy,
        multi_label=multi_label,
        num_labels=num_labels,
        config=config,
        device=torch.device("cpu"),
        on_epoch=on_epoch,
    )


def test_learns_a_separable_problem(toy):
    """Well above chance (1/3) on held-out images after a few epochs."""
    logs = []
    result = fit(toy, tiny_config(), on_epoch=lambda log: logs.append(log) or True)
    assert result.val_probabilities.shape == (30, 3)
    accuracy = (result.val_probabilities.argmax(1) == toy["y_val"].numpy()).mean()
    assert accuracy >= 0.9
    assert [log["epoch"] for log in logs] == list(range(1, len(logs) + 1))
    assert logs == result.history
    assert set(logs[0]) == {
        "epoch",
        "epochs",
        "train_loss",
        "val_loss",
        "val_accuracy",
        "val_macro_f1",
        "kept_epoch",
    }
    assert result.thresholds is None
    assert not result.model.training


def _validation_loss(model, x, y, normalisation):
    with torch.inference_mode():
        inputs = to_model_input(x, device=torch.device("cpu"), normalisation=normalisation)
        return float(F.cross_entropy(model(inputs), y))


def test_early_stopping_stops_and_restores_the_best_epoch(toy):
    """Validation labels that contradict training make validation loss rise: stop early."""
    x_val, y_val = quadrant_images(training.EARLY_STOPPING_MIN_VALIDATION, seed=2)
    contradicting = dict(toy, x_val=x_val, y_val=(y_val + 1) % 3)
    result = fit(contradicting, tiny_config(epochs=30, patience=2, learning_rate=0.01))
    losses = [log["val_loss"] for log in result.history]
    assert len(result.history) == result.best_epoch + 2 < 30
    assert losses[result.best_epoch - 1] == min(losses)
    # Each epoch said whose weights were kept so far: the lowest loss's, as it went.
    assert [log["kept_epoch"] for log in result.history] == [
        1 + min(range(n), key=losses.__getitem__) for n in range(1, len(losses) + 1)
    ]
    loss = _validation_loss(result.model, x_val, contradicting["y_val"], result.normalisation)
    assert loss == pytest.approx(min(losses), rel=1e-4)


def test_few_validation_images_train_every_epoch_and_keep_the_last(toy):
    """On a handful of validation images no epoch is chosen: the annealed last one is kept."""
    contradicting = dict(toy, y_val=(toy["y_val"] + 1) % 3)
    assert len(toy["x_val"]) < training.EARLY_STOPPING_MIN_VALIDATION
    result = fit(contradicting, tiny_config(epochs=12, patience=2, learning_rate=0.01))
    losses = [log["val_loss"] for log in result.history]
    assert len(losses) == result.best_epoch == 12
    assert losses[-1] > min(losses)  # early stopping would have stopped and gone back
    assert [log["kept_epoch"] for log in result.history] == list(range(1, 13))  # each the last
    loss = _validation_loss(
        result.model, contradicting["x_val"], contradicting["y_val"], result.normalisation
    )
    assert loss == pytest.approx(losses[-1], rel=1e-4)
    with torch.inference_mode():
        inputs = to_model_input(
            toy["x_val"], device=torch.device("cpu"), normalisation=result.normalisation
        )
        probabilities = torch.softmax(result.model(inputs), 1).numpy()
    np.testing.assert_allclose(result.val_probabilities, probabilities, rtol=1e-4, atol=1e-6)


def test_cancel_stops_at_once(toy):
    calls = []

    def on_epoch(log):
        calls.append(log["epoch"])
        return log["epoch"] < 2

    with pytest.raises(training.Cancelled):
        fit(toy, tiny_config(epochs=8, patience=8), on_epoch=on_epoch)
    assert calls == [1, 2]


def test_same_seed_same_result(toy):
    """On the CPU a seed fixes initialisation, shuffling and augmentation."""
    config = tiny_config(epochs=3, augment={"rotation": 10, "crop": 0.1, "hflip": True})
    first, second = fit(toy, config), fit(toy, config)
    other = fit(toy, {**config, "seed": 1})
    assert first.history == second.history
    assert np.array_equal(first.val_probabilities, second.val_probabilities)
    assert first.history != other.history


@pytest.mark.parametrize("balance", ["weighted_loss", "sampler", "none"])
def test_balance_modes_learn_an_imbalanced_problem(balance):
    """A 2-class problem with a 1:9 minority still finds the minority."""
    x, y = quadrant_images(200, seed=3, classes=2)
    keep = torch.cat([torch.nonzero(y == 0)[:10, 0], torch.nonzero(y == 1)[:, 0]])
    x_val, y_val = quadrant_images(40, seed=4, classes=2)
    toy = {"x_train": x[keep], "y_train": y[keep], "x_val": x_val, "y_val": y_val}
    result = fit(toy, tiny_config(balance=balance, epochs=10), num_labels=2)
    minority = result.val_probabilities[y_val.numpy() == 0].argmax(1)
    assert (minority == 0).mean() >= 0.8


def test_weighted_loss_weights_rare_labels_more():
    counts = torch.tensor([10.0, 90.0])
    single = training._class_weights(counts, 100, False, torch.device("cpu"))
    assert single.tolist() == pytest.approx([5.0, 100 / 180])
    multi = training._class_weights(counts, 100, True, torch.device("cpu"))
    assert multi.tolist() == pytest.approx([9.0, 1.0])


def test_multi_label_uses_sigmoid_and_tunes_thresholds():
    """Independent labels: probabilities need not sum to 1; a threshold per label."""
    x, y = quadrant_images(90, seed=5, classes=3)
    x_val, y_val = quadrant_images(45, seed=6, classes=3)
    hot, hot_val = F.one_hot(y, 3).float(), F.one_hot(y_val, 3).float()
    hot[:, 2] = (y == 0).float()  # label 2 goes with label 0: two labels per image at times
    hot_val[:, 2] = (y_val == 0).float()
    toy = {"x_train": x, "y_train": hot, "x_val": x_val, "y_val": hot_val}
    for balance in ("weighted_loss", "sampler"):
        result = fit(toy, tiny_config(epochs=10, balance=balance), multi_label=True)
        assert result.thresholds is not None and len(result.thresholds) == 3
        assert all(0 < t < 1 for t in result.thresholds)
        predicted = result.val_probabilities >= np.array(result.thresholds)
        assert (predicted == hot_val.numpy().astype(bool)).all(1).mean() >= 0.8
        assert not np.allclose(result.val_probabilities.sum(1), 1.0)


def test_training_needs_validation_images(toy):
    with pytest.raises(ValueError, match="validation"):
        fit(dict(toy, x_val=toy["x_val"][:0], y_val=toy["y_val"][:0]), tiny_config())


def test_mixed_precision_only_on_cuda():
    assert isinstance(training._autocast(torch.device("cpu")), type(training.nullcontext()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_learns_on_cuda_with_mixed_precision(toy):
    result = training.fit(
        **toy,
        multi_label=False,
        num_labels=3,
        config=tiny_config(),
        device=torch.device("cuda"),
        on_epoch=lambda log: True,
    )
    assert (result.val_probabilities.argmax(1) == toy["y_val"].numpy()).mean() >= 0.9
    assert next(result.model.parameters()).device.type == "cuda"


def test_a_heartbeat_after_every_batch_and_a_cancel_within_an_epoch(toy):
    """An epoch over tens of thousands of photos outlasts the stale limit: the worker
    beats between batches, and a cancel stops it before the epoch ends."""
    beats, epochs = [], []

    def run(on_batch, epochs_count):
        return training.fit(
            **toy,
            multi_label=False,
            num_labels=3,
            config=tiny_config(epochs=epochs_count, patience=8, batch_size=16),
            device=torch.device("cpu"),
            on_epoch=lambda log: epochs.append(log["epoch"]) or True,
            on_batch=on_batch,
        )

    run(lambda: beats.append(len(epochs)) or True, 2)
    per_epoch = beats.count(0)
    # 60 images in batches of 16: several batches an epoch, a beat between each two
    assert per_epoch >= 3 and beats == [0] * per_epoch + [1] * per_epoch and epochs == [1, 2]

    epochs.clear()
    with pytest.raises(training.Cancelled, match="during an epoch, after 1 batch"):
        run(lambda: False, 8)
    assert epochs == []


def test_validation_beats_too():
    """Validating thousands of photos takes minutes: it beats between its batches."""
    x_train, y_train = quadrant_images(40, seed=1)
    x_val, y_val = quadrant_images(training._EVAL_BATCH + 10, seed=2)
    beats = []
    training.fit(
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        multi_label=False,
        num_labels=3,
        config=tiny_config(epochs=1, batch_size=20),
        device=torch.device("cpu"),
        on_epoch=lambda log: True,
        on_batch=lambda: beats.append(1) or True,
    )
    steps = training.MIN_STEPS_PER_EPOCH
    assert len(beats) == (steps - 1) + 1  # between training batches, then between validation's


def test_an_unsettled_config_is_refused(toy):
    """The worker settles "auto" before training; an unsettled config is a programming error."""
    with pytest.raises(ValueError, match=r"leaves image_size, .*architecture, batch_norm open"):
        fit(toy, training_config_clean({}))


def test_norms_and_biases_are_not_decayed():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    decayed, kept = training._parameter_groups(model, 0.01)
    assert decayed["weight_decay"] == 0.01 and kept["weight_decay"] == 0.0
    assert [p.shape for p in decayed["params"]] == [model[0].weight.shape]
    assert len(kept["params"]) == 3  # the convolution's bias, the norm's scale and shift


def test_the_learning_rate_warms_up_over_the_warmup_share(toy):
    setup = training._setup(
        toy["x_train"],
        toy["y_train"],
        False,
        3,
        tiny_config(epochs=4, learning_rate=0.01, warmup=0.25),
        torch.device("cpu"),
    )
    rates = []
    for _ in range(setup.scheduler.total_steps):  # type: ignore[attr-defined]
        rates.append(setup.optimizer.param_groups[0]["lr"])
        setup.optimizer.step()
        setup.scheduler.step()
    peak = int(np.argmax(rates))
    assert rates[0] < 0.01 / 10 and max(rates) == pytest.approx(0.01)
    assert peak == pytest.approx(0.25 * len(rates), abs=1.5)


def test_mobilenet_learns_shapes_from_random_weights():
    """MobileNetV3 small from random weights on four coloured shapes, at its own settings:
    well above chance (25 %). Its batch norm statistics are measured again before each
    validation; with running averages alone it predicted one class for everything."""
    x_train, y_train = shape_images(96, seed=1)
    x_val, y_val = shape_images(64, seed=2)
    augment = {"hflip": False, "vflip": False, "rotation": 0, "crop": 0, "color_jitter": 0}
    raw = {"architecture": "mobilenet_v3_small", "image_size": 48, "epochs": 5}
    config = training_config_resolve(
        training_config_clean({**raw, "batch_size": 16, "augment": augment}), TrainingFacts()
    )
    assert config["batch_norm"] == "recalibrate" and config["pretrained"] is False
    result = training.fit(
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        multi_label=False,
        num_labels=4,
        config=config,
        device=torch.device("cpu"),
        on_epoch=lambda log: True,
    )
    accuracy = (result.val_probabilities.argmax(1) == y_val.numpy()).mean()
    assert accuracy >= 0.6, [log["val_accuracy"] for log in result.history]


def test_frozen_batch_norm_keeps_the_pretrained_statistics(monkeypatch, tmp_path, toy):
    """With batches too small for batch statistics, a pretrained backbone's norms keep
    the statistics of its weights file while the rest of it trains."""
    torch.manual_seed(3)
    pretrained = architectures.build("resnet18", 1000, 3, 224)
    for layer in batch_norm.norm_layers(pretrained):
        layer.running_mean.uniform_(-1, 1)
    torch.save(pretrained.state_dict(), tmp_path / "resnet18.pth")
    monkeypatch.setenv("LABELER_PRETRAINED_DIR", str(tmp_path))
    config = tiny_config(
        architecture="resnet18", pretrained=True, image_size=16, batch_size=8, epochs=1
    )
    assert config["batch_norm"] == "frozen"
    result = fit(toy, config)
    before = {k: v for k, v in pretrained.state_dict().items() if "running" in k}
    after = result.model.state_dict()
    assert all(torch.equal(after[key], value) for key, value in before.items())
    assert not torch.equal(after["conv1.weight"], pretrained.state_dict()["conv1.weight"])


@pytest.mark.slow  # 20 s on an H100, most of it cuDNN choosing its kernels
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_backbone_trains_on_cuda_channels_last_in_mixed_precision():
    """The CUDA path: channels-last weights, float16 autocast with a gradient scaler, the
    batches fed from pinned memory, batch norm recalibrated; it learns like the CPU."""
    x_train, y_train = shape_images(96, seed=1)
    x_val, y_val = shape_images(64, seed=2)
    raw = {"architecture": "mobilenet_v3_small", "image_size": 48, "epochs": 6}
    config = training_config_resolve(training_config_clean(raw), TrainingFacts(device="cuda"))
    result = training.fit(
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        multi_label=False,
        num_labels=4,
        config=config,
        device=torch.device("cuda"),
        on_epoch=lambda log: True,
    )
    weight = next(p for p in result.model.parameters() if p.ndim == 4)
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert (result.val_probabilities.argmax(1) == y_val.numpy()).mean() >= 0.6
