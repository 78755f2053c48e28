"""python -m worker.ml.fetch_pretrained: what it refuses before reaching the internet.

The download itself needs the internet, which the suite never has; the files it saves
are torchvision state dicts, the form tests/worker/ml loads from LABELER_PRETRAINED_DIR.
"""

from __future__ import annotations

import pytest

from worker.ml.fetch_pretrained import main


def test_an_unknown_backbone_is_refused_by_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as ended:
        main([str(tmp_path), "resnet18", "vgg16"])

    assert ended.value.code == 2
    assert "unknown backbone vgg16" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing fetched
