"""Measure: webhook feedback, outcomes, attribution, uplift and the results report.

Stage 6. Imports earlier stages and :mod:`milestones.core`.
"""
