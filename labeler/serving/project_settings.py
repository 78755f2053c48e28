"""The project settings the serving layer reads: how long served predictions are kept."""

from __future__ import annotations

from labeler.projects.settings_registry import FormInput, ProjectSetting

SETTINGS = (
    ProjectSetting(
        name="served_log_days",
        section="model",
        owner="serving",
        kind="int",
        default=30,
        minimum=1,
        maximum=3650,
        label="days served predictions are kept",
        help="Each prediction the API served is kept this many days, then deleted.",
        form=FormInput(
            message="Keep served predictions from 1 to 3650 days.",
            label="Keep served predictions (days)",
            help=(
                "Each prediction the prediction API served (its input's hash, the answer, who "
                "asked) is kept this many days, then deleted."
            ),
            anchor="served-days",
        ),
    ),
)
