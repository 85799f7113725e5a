"""Helpers for tests that run wardprog as separate processes: servers, workers, killed flows."""
