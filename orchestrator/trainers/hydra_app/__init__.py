"""A Hydra application as the trainer: composed, run in the worker or apart."""
