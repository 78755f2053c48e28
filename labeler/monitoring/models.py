"""Drift checks: recent served inputs against a version's test images."""
