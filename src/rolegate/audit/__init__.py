"""Audit engine."""
