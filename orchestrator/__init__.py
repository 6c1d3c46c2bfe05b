"""The tuning-round orchestrator."""
