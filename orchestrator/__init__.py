"""The tuning-round orchestrator."""

__version__ = "0.1.0"
