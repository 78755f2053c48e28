"""Exporting a project's images and labels in standard formats."""
