"""The face detector on scikit-image's real photos: the astronaut's face where it is, the
first 20 ``lfw_subset`` face crops each found nearly whole, nothing on faceless photos."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data as samples

from labeler.images.pixels.face_finding import faces_find


def test_the_astronauts_face_is_found_where_it_is():
    (box,) = faces_find(samples.astronaut())
    left, top, width, height, score = box
    assert 160 <= left <= 200 and 50 <= top <= 90  # her face: about (170, 60)-(280, 170)
    assert 80 <= width <= 130 and 80 <= height <= 130
    assert score > 0


@pytest.mark.parametrize("index", range(20))
def test_a_face_crop_is_found_nearly_whole(index):
    face = (samples.lfw_subset()[index] * 255).astype(np.uint8)
    boxes = faces_find(face)
    assert boxes
    left, top, width, height, _ = max(boxes, key=lambda b: b[2] * b[3])
    assert width * height > 0.5 * 25 * 25 and -5 < left < 8 and -5 < top < 8


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket"])
def test_nothing_is_found_on_a_faceless_photo(name):
    assert faces_find(getattr(samples, name)()) == []
