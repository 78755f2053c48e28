"""Wrong final labels found: the digits with 5 % of their final labels flipped.

    .venv/bin/python bench/label_errors.py                # or: make bench-label-errors
    .venv/bin/python bench/label_errors.py --folds 5 --fold-epochs 0 --threads 1

Everything goes through the application's own services on a throw-away SQLite database
with tasks in-process, as the embedded default runs them: a project of the ten digits is
created, scikit-learn's 1,797 digits are imported with final labels (``images_import``,
``labels_as="final"``), 5 % of them wrong on purpose: half flipped to a look-alike digit by
a fixed map (1<->7, 3<->8, 5<->6, 4<->9, 0->6, 2->3), half to a random other digit (fixed
seeds). A training run (``training_start``) trains the model and then the label check:
``--folds`` models, each trained on the other folds, predict every image out of sample;
confident learning (cleanlab) flags the likely-wrong labels, which are stored and sent to
the review queue. The flagged set is scored against the flips, beside two references on
the same out-of-sample probabilities: "the model's top label differs from the given one"
and cleanlab's own ``find_label_issues`` called directly. Goal: precision and recall both
at least 0.9. The folds' CPU time is printed beside the training's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import django
import numpy as np
from django.core.management import call_command

FLIP_SHARE = 0.05
FLIP_SEED = 12345
GOAL = 0.9
# The look-alike each digit is flipped to (a fixed confusion map).
LOOKALIKE = {0: 6, 1: 7, 2: 3, 3: 8, 4: 9, 5: 6, 6: 5, 7: 1, 8: 3, 9: 4}


@dataclass
class Score:
    """One way of choosing the likely-wrong labels, against the flips."""

    name: str
    flagged: int
    found: int
    flips: int

    @property
    def precision(self) -> float:
        return self.found / self.flagged if self.flagged else 0.0

    @property
    def recall(self) -> float:
        return self.found / self.flips if self.flips else 0.0


def flips_plan(truth: np.ndarray, *, share: float, seed: int) -> dict[int, int]:
    """Which digits get a wrong label and which: half a look-alike, half a random other."""
    rng = np.random.default_rng(seed)
    count = round(share * len(truth))
    chosen = rng.choice(len(truth), size=count, replace=False)
    wrong: dict[int, int] = {}
    for n, index in enumerate(chosen.tolist()):
        digit = int(truth[index])
        if n < count // 2:
            wrong[index] = LOOKALIKE[digit]
        else:
            others = [d for d in range(10) if d != digit]
            wrong[index] = int(rng.choice(others))
    return wrong


def main(argv: list[str] | None = None) -> int:
    """Import, train with folds, score the flags; exit 1 when the goal is missed."""
    options = _options(argv)
    with tempfile.TemporaryDirectory(prefix="labeler-label-errors-") as folder:
        _configure(Path(folder), options.threads)
        return _run(options)


def _run(options: argparse.Namespace) -> int:
    # Models and services can be imported only once Django is set up (main, just above).
    from cleanlab.filter import find_label_issues
    from django.contrib.auth.models import User
    from sklearn.datasets import load_digits

    from labeler.agreement.models import ReviewRequest
    from labeler.demo.services import digit_png
    from labeler.imports.applying.apply import plan_apply
    from labeler.imports.planning.labels_in import ImportItem
    from labeler.imports.planning.plan import import_plan
    from labeler.predictions.label_check import MODEL_DISAGREES
    from labeler.predictions.models import LabelCheck, RunStatus
    from labeler.predictions.services import training_start
    from labeler.projects.services import project_create

    digits = load_digits()
    truth = digits.target.astype(np.int64)
    wrong = flips_plan(truth, share=FLIP_SHARE, seed=FLIP_SEED)
    given = truth.copy()
    for index, digit in wrong.items():
        given[index] = digit
    lead, _ = User.objects.get_or_create(username="bench-lead")
    training = {
        "seed": options.seed,
        "augment": {"hflip": False, "color_jitter": 0.0},
        "label_check_folds": options.folds,
        "label_check_epochs": options.fold_epochs or None,
    }
    project = project_create(
        creator=lead,
        name="Digits with wrong labels",
        labels=[{"name": str(d), "hotkey": str(d)} for d in range(10)],
        overlap=1,
        gold_rate=0.0,
        retrain_after=0,
        training=training,
    )
    items = [
        ImportItem(f"digit-{i:04d}.png", digit_png(image), [str(given[i])])
        for i, image in enumerate(digits.images)
    ]
    _say(f"importing {len(items)} digits with final labels")
    summary = plan_apply(plan=import_plan(project=project, items=items), actor=lead)
    _say("training, then the label check's folds")
    index_of = {r.image_id: int(r.name[6:10]) for r in summary.results if r.image_id}
    if summary.labels_applied != len(items):
        raise RuntimeError(f"only {summary.labels_applied} of {len(items)} labels imported")

    cpu_started, started = time.process_time(), time.perf_counter()
    run = training_start(project=project, requested_by=lead)
    cpu_seconds, seconds = time.process_time() - cpu_started, time.perf_counter() - started
    run.refresh_from_db()
    if run.status != RunStatus.SUCCEEDED:
        raise RuntimeError(f"training run {run.pk} ended {run.status}: {run.message}")
    version = run.model_version
    check = version.metrics.get("label_check")
    if not check:
        raise RuntimeError("the run made no label check")

    checks = list(LabelCheck.objects.filter(project=project).order_by("image_id"))
    label_column = {pk: int(name) for pk, name in project.labels.values_list("pk", "name")}
    rows = np.array([index_of[c.image_id] for c in checks])
    probabilities = np.zeros((len(checks), 10))
    for i, c in enumerate(checks):
        for label_id, p in c.probabilities.items():
            probabilities[i, label_column[int(label_id)]] = p
    is_flip = np.isin(rows, list(wrong))
    ours = np.array([c.flagged for c in checks])
    top_differs = probabilities.argmax(1) != given[rows]
    direct = find_label_issues(given[rows], probabilities, n_jobs=1)
    in_review = ReviewRequest.objects.filter(
        project=project, reason=MODEL_DISAGREES, resolved_at__isnull=True
    ).count()
    scores = [
        _score("label check (stored, flagged)", ours, is_flip),
        _score("model's top label differs", top_differs, is_flip),
        _score("cleanlab find_label_issues", direct, is_flip),
    ]
    lookalike = np.isin(rows, [i for n, i in enumerate(wrong) if n < len(wrong) // 2])
    return _print(
        options, scores, check, run, seconds, cpu_seconds, in_review, ours, lookalike, is_flip
    )


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _score(name: str, flagged: np.ndarray, is_flip: np.ndarray) -> Score:
    return Score(name, int(flagged.sum()), int((flagged & is_flip).sum()), int(is_flip.sum()))


def _print(
    options: argparse.Namespace,
    scores: list[Score],
    check: dict,
    run: object,
    seconds: float,
    cpu_seconds: float,
    in_review: int,
    ours: np.ndarray,
    lookalike: np.ndarray,
    is_flip: np.ndarray,
) -> int:
    import torch

    flips = scores[0].flips
    print(
        f"1,797 digits, {flips} final labels flipped ({FLIP_SHARE:.0%}: half to a look-alike, "
        f"half at random; seed {FLIP_SEED}); small CNN, training seed {options.seed}; "
        f"{check['folds']} folds of {check['epochs']} epochs; torch threads "
        f"{torch.get_num_threads()}"
    )
    print(f"{'flagged by':<32}{'flagged':>8}{'flips in it':>12}{'precision':>10}{'recall':>8}")
    for s in scores:
        print(f"{s.name:<32}{s.flagged:>8}{s.found:>12}{s.precision:>10.3f}{s.recall:>8.3f}")
    ours_score, top = scores[0], scores[1]
    print(
        f"against the top-label reference: precision x{_ratio(ours_score.precision, top.precision)}"
        f", recall x{_ratio(ours_score.recall, top.recall)}"
    )
    random_flips = is_flip & ~lookalike
    print(
        f"found: {int((ours & lookalike).sum())} of {int(lookalike.sum())} look-alike flips, "
        f"{int((ours & random_flips).sum())} of {int(random_flips.sum())} random ones"
    )
    print(f"sent to review (reason model_disagrees): {in_review}")
    folds_cpu = float(check["cpu_seconds"])
    training_cpu = cpu_seconds - folds_cpu
    print(
        f"CPU time: training run {cpu_seconds:.1f} s in all ({seconds:.1f} s wall), of which "
        f"folds {folds_cpu:.1f} s ({check['seconds']:.1f} s wall): the folds cost "
        f"{folds_cpu / max(training_cpu, 1e-9):.1f}x the rest of the run ({training_cpu:.1f} s)"
    )
    print(f"load average: {os.getloadavg()[0]:.1f} (1 min; {os.cpu_count()} cores)")
    ok = ours_score.precision >= GOAL and ours_score.recall >= GOAL
    print(f"goal: precision and recall >= {GOAL}: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5, help="label_check_folds (5)")
    parser.add_argument(
        "--fold-epochs",
        type=int,
        default=0,
        help="label_check_epochs (0: the product's default, half the run's 20 epochs)",
    )
    parser.add_argument("--seed", type=int, default=0, help="training seed (0)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1: modest on a shared host)"
    )
    return parser.parse_args(argv)


def _configure(folder: Path, threads: int) -> None:
    """A fresh SQLite database and media folder; no broker, so tasks run in-process."""
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="labeler.settings",
        DATABASE_URL=f"sqlite:///{folder / 'bench.sqlite3'}",
        MEDIA_ROOT=str(folder / "media"),
        LABELER_MODEL_DIR=str(folder / "models"),
        LABELER_INPUT_CACHE_DIR=str(folder / "inputs"),
        LOG_LEVEL="WARNING",
        LABELER_TORCH_THREADS=str(threads),
    )
    django.setup()
    call_command("migrate", verbosity=0)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main())
