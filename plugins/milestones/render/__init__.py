"""Render: the template catalog, A/B variants, and emails rendered per customer.

Stage 4. Imports earlier stages and :mod:`milestones.core`.
"""
