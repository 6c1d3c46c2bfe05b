"""The trainer's door: one ``Trainer`` protocol, a class per kind (a function, a Hydra app,
a command), one resolver, and the one channel every kind reports through."""
