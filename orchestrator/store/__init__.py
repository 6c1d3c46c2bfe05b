"""What every stage reads and writes: the ``studies/`` workspace, the Optuna storage, the
stored-trial record, findings, the ledger and the incumbent."""
