"""The work stage's machinery: studies, the worker loop, one trial (objective), budgets and
claims across processes, dead-worker retry, signals, GPUs, local worker processes."""
