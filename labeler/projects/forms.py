"""Forms of the project pages: they parse what a browser sends; the services judge it."""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.utils.datastructures import MultiValueDict

from labeler.errors import DomainError
from labeler.projects.labels import DEFAULT_HOTKEYS, PALETTE
from labeler.projects.models import ConsensusMethod, Project, Role

LABEL_PARTS = ("id", "name", "color", "hotkey")
NEW_PROJECT_LABEL_ROWS = 2  # a single-label project needs at least two labels


def default_label_row(position: int) -> dict[str, str]:
    """An empty row with the colour and hotkey the service would give that position."""
    hotkey = DEFAULT_HOTKEYS[position] if position < len(DEFAULT_HOTKEYS) else ""
    return {"id": "", "name": "", "color": PALETTE[position % len(PALETTE)], "hotkey": hotkey}


def project_label_rows(project: Project) -> list[dict[str, str]]:
    """The project's stored labels as rows of the form, ids included."""
    return [
        {"id": str(label.pk), "name": label.name, "color": label.color, "hotkey": label.hotkey}
        for label in project.labels.all()
    ]


class LabelRowsWidget(forms.Widget):
    """Reads label rows from parallel lists: labels-id, labels-name, labels-color, ...

    The template draws the rows itself (project-form.js adds and removes them).
    """

    def value_from_datadict(
        self, data: Any, files: MultiValueDict[str, Any], name: str
    ) -> list[dict[str, str]]:
        columns = [data.getlist(f"{name}-{part}") for part in LABEL_PARTS]
        return [
            dict(zip(LABEL_PARTS, row, strict=True)) for row in zip_longest(*columns, fillvalue="")
        ]


class LabelRowsField(forms.Field):
    """Label rows in the shape labeler.projects.labels reads; blank new rows are dropped."""

    widget = LabelRowsWidget

    def clean(self, value: Any) -> list[dict[str, Any]]:
        labels: list[dict[str, Any]] = []
        for row in value or []:
            label_id = row.get("id", "").strip()
            name = row.get("name", "")
            if not label_id and not name.strip():
                continue
            label: dict[str, Any] = {
                "name": name,
                "color": row.get("color") or None,
                "hotkey": row.get("hotkey", "").strip(),
            }
            if label_id:
                # Anything but digits goes to the service as is, which names the problem.
                label["id"] = int(label_id) if label_id.isdecimal() else label_id
            labels.append(label)
        return labels


def bounded_number(maximum: float, message: str) -> forms.FloatField:
    """An optional number from 0 to ``maximum``, with one message for either bound."""
    return forms.FloatField(
        required=False,
        min_value=0,
        max_value=maximum,
        error_messages={"min_value": message, "max_value": message},
    )


class DomainForm(forms.Form):
    """A form that shows a service's DomainError beside the field it names (or above)."""

    def add_domain_error(self, exc: DomainError) -> None:
        field = exc.field if exc.field in self.fields else None
        self.add_error(field, exc.message)


class ProjectForm(DomainForm):
    """A project's settings and labels; limits are the services' to check."""

    name = forms.CharField(required=False, strip=False)
    instructions = forms.CharField(required=False)
    multi_label = forms.ChoiceField(
        choices=[("0", "Single label"), ("1", "Multi-label")], required=False
    )
    overlap = forms.IntegerField(error_messages={"required": "Give the overlap, e.g. 1."})
    labels = LabelRowsField(required=False)
    # Left out of a post, the quality settings keep their stored (or default) values.
    consensus_method = forms.ChoiceField(
        required=False,
        choices=[("", ""), *ConsensusMethod.choices],
        error_messages={"invalid_choice": "Choose majority vote or Dawid-Skene."},
    )
    review_threshold = bounded_number(1, "The review threshold is a confidence from 0 to 1.")
    gold_percent = bounded_number(100, "The share of gold images is a percentage from 0 to 100.")

    def clean_multi_label(self) -> bool:
        return bool(self.cleaned_data.get("multi_label") == "1")

    def settings(self) -> dict[str, Any]:
        """The cleaned values as the project services take them (gold rate as a fraction)."""
        values = dict(self.cleaned_data)
        gold_percent = values.pop("gold_percent")
        if gold_percent is not None:
            values["gold_rate"] = gold_percent / 100
        if values["review_threshold"] is None:
            del values["review_threshold"]
        if not values["consensus_method"]:
            del values["consensus_method"]
        return values

    @classmethod
    def for_project(cls, project: Project) -> ProjectForm:
        """An unbound form showing the project as stored."""
        return cls(
            initial={
                "name": project.name,
                "instructions": project.instructions,
                "multi_label": "1" if project.multi_label else "0",
                "overlap": project.overlap,
                "labels": project_label_rows(project),
                "consensus_method": project.consensus_method,
                "review_threshold": project.review_threshold,
                "gold_percent": round(project.gold_rate * 100, 2),
            }
        )

    @classmethod
    def blank(cls) -> ProjectForm:
        """An unbound form for a new project, with two empty label rows."""
        rows = [default_label_row(i) for i in range(NEW_PROJECT_LABEL_ROWS)]
        defaults = Project()  # an unsaved project holds the model's defaults
        return cls(
            initial={
                "multi_label": "0",
                "overlap": 1,
                "labels": rows,
                "consensus_method": defaults.consensus_method,
                "review_threshold": defaults.review_threshold,
                "gold_percent": round(defaults.gold_rate * 100, 2),
            }
        )


class MemberAddForm(DomainForm):
    """Add a member by username, or change the role of one already there."""

    username = forms.CharField(
        max_length=150, error_messages={"required": "Give the username of the person to add."}
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)

    def clean_username(self) -> User:
        username = self.cleaned_data["username"].strip()
        active = User.objects.filter(is_active=True)
        user = active.filter(username=username).first()
        if user is None:
            # Forgive the case of a name when only one account could be meant.
            matches = list(active.filter(username__iexact=username)[:2])
            user = matches[0] if len(matches) == 1 else None
        if user is None:
            raise forms.ValidationError(
                f"There is no user named “{username}”. Check the spelling, or ask an admin "
                "to create the account first."
            )
        return user


class MemberRoleForm(forms.Form):
    """Change one member's role."""

    role = forms.ChoiceField(choices=Role.choices)
