"""Diagnostic sources: extract specs, folder and warehouse adapters, validation, synthetic data."""
