"""Applying: an import plan is written, each row through the services of its owner."""
