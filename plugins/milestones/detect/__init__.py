"""Detect: life events from dates and from changes between two snapshots.

Stage 2. Imports only :mod:`milestones.ingest` and :mod:`milestones.core`.
"""
