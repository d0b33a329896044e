"""Benchmarks; run them through the justfile (``just bench-converter``)."""
