"""Webhooks a lead registers, and the record of each delivery."""
