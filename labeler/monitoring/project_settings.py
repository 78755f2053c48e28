"""The project settings the drift check reads: its window, how many served predictions it
needs, and its false-alarm rate."""

from __future__ import annotations

from labeler.projects.settings_registry import FormInput, ProjectSetting

SETTINGS = (
    ProjectSetting(
        name="drift_window_hours",
        section="model",
        owner="monitoring",
        kind="int",
        default=24,
        minimum=1,
        maximum=720,
        help=(
            "The drift check compares the predictions served in this many past hours with "
            "the current model's test images."
        ),
        form=FormInput(
            message="The drift check's window is a whole number of hours, 1 to 720.",
            label="Drift check window (hours)",
            help=(
                "The drift check compares the predictions served in this many past hours with "
                "the current model's test images."
            ),
            anchor="drift-window",
        ),
    ),
    ProjectSetting(
        name="drift_minimum_count",
        section="model",
        owner="monitoring",
        kind="int",
        default=100,
        minimum=20,
        maximum=100_000,
        help="A scheduled drift check runs once the window holds this many served predictions.",
        form=FormInput(
            message="The drift check needs a whole number of predictions, 20 to 100000.",
            label="Drift check after (served predictions)",
            help="A scheduled drift check runs once the window holds this many served predictions.",
            anchor="drift-count",
        ),
    ),
    ProjectSetting(
        name="drift_false_alarm_rate",
        section="model",
        owner="monitoring",
        kind="float",
        default=0.01,
        minimum=0.001,
        maximum=0.1,
        help=(
            "The drift check's chance of an alarm when nothing changed (its three tests "
            "together, Holm's correction)."
        ),
        form=FormInput(
            name="drift_false_alarm_percent",
            scale=100,
            message="The drift check's false-alarm rate is a percentage from 0.1 to 10.",
            label="Drift false-alarm rate (%)",
            help="The chance of a drift alarm when nothing changed (its three tests together).",
            anchor="drift-rate",
            step=0.1,
        ),
    ),
)
