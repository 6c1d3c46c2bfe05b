"""stage=probe: measure the incumbent's (or the composed) model and data per batch size."""

from __future__ import annotations

from pathlib import Path

from orchestrator.config.experiment import Experiment
from orchestrator.config.schema import Config
from orchestrator.config.sections import validate_probe
from orchestrator.exceptions import ConfigError
from orchestrator.store.incumbent import starting_config
from orchestrator.store.ledger import Ledger, ledger_url


def probe(root: Config, base: Experiment) -> int:
    """The probe's table, files and (with ``probe.apply``) the incumbent's batch size."""
    validate_probe(root.probe)
    if not base.builtin:
        raise ConfigError(
            "stage",
            "stage=probe measures the built-in experiment's model and data; an own config's "
            "batch size is set by your own trainer",
        )
    from orchestrator.probe.output import probe_stage  # torch: only this stage measures

    start, origin = starting_config("incumbent", base, root.paths.studies)
    config = start.as_builtin()
    print(f"probing {config.model.name} on {config.data.name} from {origin}")
    result = probe_stage(config, root.probe, root.paths.studies)
    url = ledger_url(root.storage, root.paths.studies)
    if root.storage.kind != "sqlite" or Path(url.removeprefix("sqlite:///")).exists():
        with Ledger(url) as ledger:  # a ledger row when the ledger exists
            ledger.record_probe(result.to_dict())
    return 0
