"""Benchmarks run by hand (see docs/benchmarks.md); pytest does not collect them."""
