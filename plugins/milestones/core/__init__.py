"""Core: settings, the data directory, the extract contract, signed links, log and CSV safety.

Imports no stage: every other subpackage may import it.
"""
