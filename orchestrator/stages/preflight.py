"""Every check of a round stage that can fail before a trial runs, run before the first one.

A check that fails only after every trial ran wastes the round: promotion needs a seed key
to re-train with, and re-trains the incumbent with this round's trainer, so both are
checked when the round opens, not when promotion starts. A round that cannot promote (no
seed key, or ``round.promote=false``) is still worked and analysed by ``stage=run``, which
says why it skipped promotion; only ``stage=promote`` refuses it. Advice names only what would
change the outcome: never a setting that is already set.
"""

from __future__ import annotations

from orchestrator.config.experiment import Experiment
from orchestrator.config.schema import Config
from orchestrator.config.trainer_settings import selection_hint
from orchestrator.exceptions import ConfigError
from orchestrator.store.incumbent import read_incumbent


def check_before_trials(root: Config, base: Experiment, *, trains: bool) -> None:
    """One ConfigError for the first check that would fail later in this stage."""
    assert root.round is not None
    if root.stage == "promote":
        refuse_promotion_without_its_settings(root, base)
    promotes = root.stage == "promote" or (
        root.stage == "run" and promotion_skipped(root, base) is None
    )
    if trains:
        check_incumbent_trainer(root, base, promotes=promotes)


def promotion_skipped(root: Config, base: Experiment) -> str | None:
    """Why ``stage=run`` does the work and the analysis but no promotion (None: it
    promotes): switched off for the round, or no seed key to re-train with. Said in the
    terminal and the report, with the setting that would promote the round later."""
    assert root.round is not None
    if not root.round.promote:
        return (
            "switched off for this round (round.promote=false); to decide on its candidate "
            "later: stage=promote round.promote=true"
        )
    if base.seed_key is None:
        return (
            "no seed key (trainer.seed_key is unset), and promotion re-trains the candidate "
            "and the incumbent with fresh seeds; to decide on this round's candidate later: "
            "stage=promote trainer.seed_key=<the config key your trainer seeds from>"
        )
    return None


def refuse_promotion_without_its_settings(root: Config, base: Experiment) -> None:
    """``stage=promote`` on a round that cannot be promoted: one error naming the setting."""
    assert root.round is not None
    if not root.round.promote:
        raise ConfigError(
            "round.promote",
            "promotion is switched off for this round (round.promote=false); to promote it, "
            "set round.promote=true",
        )
    if base.seed_key is None:
        raise ConfigError(
            "trainer.seed_key",
            "promotion re-trains the candidate and the incumbent with fresh seeds: name the "
            "config key your trainer seeds from (e.g. trainer.seed_key=seed)",
        )


def check_incumbent_trainer(root: Config, base: Experiment, *, promotes: bool) -> None:
    """The incumbent is trained by this round (its start, or promotion's competitor) only
    under the trainer it was promoted with: its values may not mean the same to another."""
    assert root.round is not None
    starts_from_it = root.round.start_from == "incumbent"
    if not (starts_from_it or promotes):
        return
    incumbent = read_incumbent(root.paths.studies)
    if incumbent is None or incumbent.trainer is None or incumbent.trainer == base.trainer:
        return
    uses = "this round starts from it" if starts_from_it else ""
    if promotes:
        uses += (" and " if uses else "") + "promotion re-trains it as the config to beat"
    ways = [f"use its trainer ({selection_hint(incumbent.trainer)})"]
    if promotes:
        also = " with round.start_from=base" if starts_from_it else ""
        ways.append(f"train and analyse without promotion (round.promote=false{also})")
        ways.append("keep this trainer's rounds in a store of their own (paths.studies=DIR)")
    else:
        ways.append("start from your base config (round.start_from=base)")
    raise ConfigError(
        "trainer._target_",
        f"{incumbent.path} was promoted with trainer {incumbent.trainer}, and this round trains "
        f"with {base.trainer}; {uses}, and its values may not mean the same to another "
        f"trainer. Either {', or '.join(ways)}",
    )
