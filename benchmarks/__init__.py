"""Reproducible measurements: every figure the project claims comes from a command here."""
