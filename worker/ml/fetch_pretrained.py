"""Save torchvision's ImageNet weights of the backbones, for ``LABELER_PRETRAINED_DIR``.

    python -m worker.ml.fetch_pretrained /app/pretrained                # every backbone
    python -m worker.ml.fetch_pretrained /app/pretrained resnet18       # these only

Run where the internet can be reached (the GPU image runs it at build, see Dockerfile):
each backbone's default torchvision weights are downloaded and saved as the plain state
dict ``<architecture>.pth`` the workers load (``worker.ml.architectures``). A folder
made once can be copied to workers that cannot reach the internet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labeler.predictions.training_config import BACKBONES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="where the <architecture>.pth files go")
    parser.add_argument(
        "architectures", nargs="*", help=f"some of {', '.join(BACKBONES)} (default: all)"
    )
    options = parser.parse_args(argv)
    unknown = sorted(set(options.architectures) - set(BACKBONES))
    if unknown:
        parser.error(f"unknown backbone {', '.join(unknown)}; use some of {', '.join(BACKBONES)}")
    import torch
    from torchvision.models import get_model_weights

    options.folder.mkdir(parents=True, exist_ok=True)
    for architecture in options.architectures or BACKBONES:
        weights = get_model_weights(architecture).DEFAULT
        target = options.folder / f"{architecture}.pth"
        torch.save(weights.get_state_dict(progress=False), target)
        print(f"{target}: {weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
