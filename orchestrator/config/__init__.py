"""Every schema a YAML file under ``conf/`` fills (the root, its sections, rounds), its
validation at the boundary, dotted parameter paths, and the trainer's resolution."""
