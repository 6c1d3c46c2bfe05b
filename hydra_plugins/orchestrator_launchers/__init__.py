"""The orchestrator's Hydra launchers (Hydra loads launcher classes only from here)."""
