"""A round's roles checked and made usable: ``parse_round`` turns a ``RoundConfig`` into a
``Round`` (its studies, search space, sampling and trial configs) or one ``ConfigError``."""
