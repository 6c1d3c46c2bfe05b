"""stage=probe: measure the incumbent's (or the composed) model and data per batch size."""

from __future__ import annotations

from pathlib import Path

from orchestrator.config.schema import Config
from orchestrator.config.sections import validate_probe
from orchestrator.store.incumbent import starting_config
from orchestrator.store.ledger import Ledger, ledger_url
from orchestrator.train.config import ExperimentConfig


def probe(root: Config, base: ExperimentConfig) -> int:
    """The probe's table, files and (with ``probe.apply``) the incumbent's batch size."""
    validate_probe(root.probe)
    from orchestrator.probe.output import probe_stage  # torch: only this stage measures

    config, origin = starting_config("incumbent", base, root.paths.studies)
    print(f"probing {config.model.name} on {config.data.name} from {origin}")
    result = probe_stage(config, root.probe, root.paths.studies)
    url = ledger_url(root.storage, root.paths.studies)
    if root.storage.kind != "sqlite" or Path(url.removeprefix("sqlite:///")).exists():
        with Ledger(url) as ledger:  # a ledger row when the ledger exists
            ledger.record_probe(result.to_dict())
    return 0
