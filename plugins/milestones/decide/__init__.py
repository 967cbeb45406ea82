"""Decide: consent, preferences, suppressions, caps and priorities: who is contacted.

Stage 3. Imports earlier stages and :mod:`milestones.core`.
"""
