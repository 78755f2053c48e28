"""The labelling page's keyboard help: it lists only keys that work in the project."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.web.test_empty_states import client_as

pytestmark = pytest.mark.django_db

ALT_G = re.compile(r"<kbd>Alt</kbd>\+<kbd>G</kbd>")


@pytest.mark.parametrize(("grid_mode", "listed"), [("choice", 2), ("always", 0), ("off", 0)])
def test_alt_g_is_in_the_help_only_where_the_annotator_may_switch(
    project, annotator, grid_mode, listed
):
    """Alt+G switches between one image at a time and the grid only where the project
    leaves the choice to the annotator ("choice"): the help lists it there, in both
    modes' tables, and nowhere else."""
    project.grid_mode = grid_mode
    project.save(update_fields=["grid_mode"])
    response = client_as(annotator).get(reverse("label", args=[project.pk]))
    assert response.status_code == 200
    help_dialog = response.content.decode().split('id="help-dialog"')[1].split("</dialog>")[0]
    assert len(ALT_G.findall(help_dialog)) == listed
