"""``hydra/launcher=slurm``: Hydra instantiates launchers only from the ``hydra_plugins``
namespace, so the class is named here; its code is ``orchestrator.work.slurm_launcher``."""

from __future__ import annotations

from orchestrator.work.slurm_launcher import SlurmLauncher as _Orchestrators


class SlurmLauncher(_Orchestrators):
    """Submitit's SLURM launcher that checks the request and fails where SLURM sees it."""
