"""Deliver: the send ledger (exactly once) and the transports (outbox, SendGrid).

Stage 5. Imports earlier stages and :mod:`milestones.core`.
"""
