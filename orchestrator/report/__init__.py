"""Figures and pages built from results; plotting lives here, never in train/ or analysis/."""
