"""A small Hydra task in the style hydra-optuna-sweeper users write: ``@hydra.main`` on a
function that trains once and returns the number the sweeper optimizes (here the
validation accuracy of scikit-learn's MLP on its bundled 8x8 digits: real data, offline,
under a second per run on a CPU). Alone, ``python sweep_task.py -m`` runs the Optuna
sweeper (with hydra-optuna-sweeper installed); the orchestrator tunes it unchanged.
"""

from __future__ import annotations

import logging
import warnings

import hydra
from omegaconf import DictConfig
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """Train the MLP with this run's values; its accuracy on the held-out digits."""
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x / 16.0, y, test_size=cfg.train.val_fraction, random_state=0, stratify=y
    )
    model = MLPClassifier(
        hidden_layer_sizes=(cfg.model.hidden_units,),
        activation=cfg.model.activation,
        learning_rate_init=cfg.optim.lr,
        alpha=cfg.optim.alpha,
        max_iter=cfg.train.max_iter,
        random_state=cfg.seed,
    )
    with warnings.catch_warnings():  # a short max_iter stops before convergence on purpose
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    accuracy = float(model.score(x_val, y_val))
    log.info("val accuracy %.4f", accuracy)
    return accuracy


if __name__ == "__main__":
    main()
