"""A command that trains nothing, for the per-trial overhead benchmark: one report line
through ``trial_report`` (its arguments are ignored)."""

from trial_report import report

report(1, val_error=0.5)
