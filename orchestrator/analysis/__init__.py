"""Analysis: pure functions from a round's trials to findings (the playbook's checks)."""
