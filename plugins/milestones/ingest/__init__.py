"""Ingest: an extract from the inbox (or object storage) read, mapped, validated and gated.

Stage 1 of the pipeline. Imports only :mod:`milestones.core`.
"""
