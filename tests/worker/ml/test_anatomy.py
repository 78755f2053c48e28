"""Each architecture's last linear layer, last feature map and penultimate embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labeler.predictions.training_config import ARCHITECTURES
from worker.ml import anatomy, architectures, weights
from worker.ml.inference import predict_tensor
from worker.ml.weights import LoadedModel


def loaded_model(architecture: str, labels: int = 3, multi_label: bool = False) -> LoadedModel:
    torch.manual_seed(0)
    model = architectures.build(architecture, labels, 3, 32).eval()
    meta = {
        "label_ids": list(range(1, labels + 1)),
        "normalisation": architectures.normalisation_for(architecture, 3),
        "multi_label": multi_label,
    }
    return LoadedModel(model=model, meta=meta)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_embedding_is_what_the_last_layer_turns_into_the_probabilities(architecture):
    loaded = loaded_model(architecture)
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)

    probs, embeddings = anatomy.probabilities_and_embeddings(loaded, x)

    layer = anatomy.classifier_layer(loaded.model)
    assert embeddings.shape == (4, layer.in_features)
    np.testing.assert_allclose(probs, predict_tensor(loaded, x), atol=1e-5)
    with torch.no_grad():
        again = torch.softmax(layer(torch.from_numpy(embeddings)), 1).numpy()
    np.testing.assert_allclose(again, probs, atol=1e-5)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_the_feature_map_layer_gives_a_spatial_map(architecture):
    loaded = loaded_model(architecture)
    maps: list[torch.Tensor] = []
    anatomy.feature_map_layer(loaded.model).register_forward_hook(
        lambda _m, _i, output: maps.append(output)
    )
    with torch.no_grad():
        loaded.model(torch.randn(2, 3, 64, 64))
    assert maps[0].dim() == 4 and maps[0].shape[0] == 2 and maps[0].shape[2] > 1


def test_multi_label_probabilities_are_sigmoids():
    loaded = loaded_model("small-cnn", labels=4, multi_label=True)
    probs, _ = anatomy.probabilities_and_embeddings(
        loaded, torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    )
    assert not np.allclose(probs.sum(1), 1.0)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_a_model_loaded_for_inference_gives_its_embeddings_too(architecture):
    """``weights.load`` fuses the network (torch.fx): its head is no longer a Sequential,
    yet its last linear layer is found and gives the same embeddings and probabilities."""
    plain = loaded_model(architecture)
    fused = LoadedModel(
        model=weights.for_inference(plain.model, torch.device("cpu")), meta=plain.meta
    )
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)

    probs, embeddings = anatomy.probabilities_and_embeddings(fused, x)

    expected_probs, expected_embeddings = anatomy.probabilities_and_embeddings(plain, x)
    np.testing.assert_allclose(probs, expected_probs, atol=1e-4)
    np.testing.assert_allclose(embeddings, expected_embeddings, atol=1e-3)
