"""stage=history: every promotion decision, oldest first (reads only the ledger)."""

from __future__ import annotations

from orchestrator.config.experiment import Experiment
from orchestrator.config.schema import Config
from orchestrator.promotion.lineage import format_history
from orchestrator.store.ledger import Ledger, ledger_url


def history(root: Config, base: Experiment) -> int:
    """Print the lineage of incumbents."""
    with Ledger(ledger_url(root.storage, root.paths.studies)) as ledger:
        print(format_history(ledger.decisions()))
    return 0
