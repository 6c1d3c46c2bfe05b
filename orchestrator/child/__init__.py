"""What a trainer's own process imports: ``trial_report``, standard library only."""
