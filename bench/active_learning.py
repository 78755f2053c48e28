"""Active learning on the digits: labels needed to reach 97 % held-out accuracy.

    .venv/bin/python bench/active_learning.py                 # margin vs random, 5 seeds
    .venv/bin/python bench/active_learning.py --seeds 0 1 2 3 4 --target 0.97

Everything goes through the application's own services on a throw-away SQLite database
with tasks in-process, as the embedded default runs them: images are uploaded to a
project, a simulated annotator takes images from the queue (``queue_next_image``) and
labels them with the true digit (``annotation_submit``); every ``--step`` labels a
training run is started (``training_start``), which trains, promotes by the usual rule,
pre-labels every unlabelled image and re-orders the queue by the project's strategy.
After each run the current model is scored on a fixed held-out set no project ever sees.
Both strategies start from the same ``--start`` random images per seed (20), then
retrain every ``--step`` labels.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import django
from django.core.management import call_command

STRATEGIES = ("margin", "random")


@dataclass
class Curve:
    strategy: str
    seed: int
    points: list[tuple[int, float]] = field(default_factory=list)  # (labels, accuracy)
    reached: int | None = None
    seconds: float = 0.0


def main(argv: list[str] | None = None) -> int:
    """Run every strategy on every seed, print the curves and the table."""
    options = _options(argv)
    with tempfile.TemporaryDirectory(prefix="labeler-al-") as folder:
        _configure(Path(folder))
        # Models and services can be imported only once Django is set up, just above.
        from bench.active_learning_steps import Digits, run_curve

        digits = Digits.load(holdout=options.holdout)
        curves = []
        for seed in options.seeds:
            for strategy in options.strategies:
                curve = Curve(strategy, seed)
                started = time.perf_counter()
                run_curve(
                    curve,
                    digits,
                    start=options.start,
                    step=options.step,
                    target=options.target,
                    budget=options.budget,
                    augment=options.augment,
                    training=options.training,
                )
                curve.seconds = time.perf_counter() - started
                _print_curve(curve)
                curves.append(curve)
        return _print_table(curves, options)


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--strategies",
        nargs="+",
        choices=STRATEGIES,
        default=list(STRATEGIES),
        help="queue orders to run (both: the ratio needs them)",
    )
    parser.add_argument(
        "--start", type=int, default=20, help="random labels before the first training (20)"
    )
    parser.add_argument("--step", type=int, default=20, help="labels between trainings (20)")
    parser.add_argument("--target", type=float, default=0.97, help="held-out accuracy (0.97)")
    parser.add_argument("--budget", type=int, default=600, help="give up after this many labels")
    parser.add_argument(
        "--augment",
        choices=("default", "off"),
        default="default",
        help="training augmentation: the demo's (default) or none",
    )
    parser.add_argument(
        "--training",
        type=json.loads,
        default={},
        help="training settings over the demo's, as JSON: '{\"validation_share\": 0.1}'",
    )
    parser.add_argument("--holdout", type=int, default=497, help="held-out digits (497)")
    return parser.parse_args(argv)


def _configure(folder: Path) -> None:
    """A fresh SQLite database and media folder; no broker, so tasks run in-process."""
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="labeler.settings",
        DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite3'}",
        MEDIA_ROOT=str(folder / "media"),
        LABELER_MODEL_DIR=str(folder / "models"),
        LOG_LEVEL="WARNING",
    )
    os.environ.setdefault("LABELER_TORCH_THREADS", "2")
    django.setup()
    call_command("migrate", verbosity=0)


def _print_curve(curve: Curve) -> None:
    trail = "  ".join(f"{n}:{accuracy:.3f}" for n, accuracy in curve.points)
    reached = curve.reached if curve.reached is not None else "not reached"
    print(f"{curve.strategy:>7} seed {curve.seed}: {reached} labels ({curve.seconds:.0f} s)")
    print(f"         {trail}", flush=True)


def _print_table(curves: list[Curve], options: argparse.Namespace) -> int:
    """The labels each strategy needed per seed, their median, and the ratio."""
    print()
    print(
        f"Labels needed for {options.target:.0%} held-out accuracy "
        f"(from {options.start} random labels, retraining every {options.step} labels, "
        f"{options.holdout} held-out digits)"
    )
    header = f"{'strategy':<9}" + "".join(f"{'seed ' + str(s):>9}" for s in options.seeds)
    print(header + f"{'median':>9}{'time':>9}")
    medians = {}
    for strategy in options.strategies:
        mine = [c for c in curves if c.strategy == strategy]
        needed = [c.reached if c.reached is not None else options.budget for c in mine]
        medians[strategy] = statistics.median(needed)
        cells = "".join(
            f"{c.reached if c.reached is not None else '>' + str(options.budget):>9}" for c in mine
        )
        seconds = sum(c.seconds for c in mine)
        print(f"{strategy:<9}{cells}{medians[strategy]:>9.0f}{seconds:>8.0f}s")
    if len(medians) < len(STRATEGIES):
        return 0
    ratio = medians["margin"] / medians["random"]
    needed_by = {(c.strategy, c.seed): c.reached or options.budget for c in curves}
    per_seed = [needed_by["margin", s] / needed_by["random", s] for s in options.seeds]
    print(
        f"margin / random: {ratio:.2f} of the labels (median); per seed "
        + ", ".join(f"{x:.2f}" for x in per_seed)
        + " (target <= 0.50)"
    )
    return 0 if ratio <= 0.5 else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
