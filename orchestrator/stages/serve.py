"""stage=dashboard and stage=tensorboard: this project's store and runs in the two viewers.

From the user's own folder, through the one command: the store and the workspace are the
ones this config names (``storage``, ``paths.studies``), never another project's. A viewer
opened on a store that does not exist yet would create an empty one (an SQLite file with
no tables, which optuna-dashboard then fails on), so a missing store is one error that says
to run a round first. Both serve until Ctrl-C or SIGTERM, which end them with exit 0
(handled here, not left to Python's default: a shell's background job ignores SIGINT).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from orchestrator.config.experiment import Experiment
from orchestrator.config.schema import Config
from orchestrator.config.sections import StorageConfig
from orchestrator.exceptions import ConfigError
from orchestrator.store import paths
from orchestrator.store.redaction import redact
from orchestrator.trainers.signals import Interrupted, interrupting_training


def dashboard(root: Config, base: Experiment) -> int:
    """Serve optuna-dashboard on this project's store (with the trials' artifacts)."""
    from optuna.artifacts import FileSystemArtifactStore
    from optuna_dashboard import run_server

    from orchestrator.store.storage import opened_storage

    _existing_store(root.storage)
    serve = root.serve
    artifacts = paths.artifacts_dir(root.paths.studies)
    store = FileSystemArtifactStore(str(artifacts)) if artifacts.is_dir() else None
    with opened_storage(root.storage) as storage:
        print(
            f"optuna-dashboard on {_store_name(root.storage)}: "
            f"http://{serve.host}:{serve.dashboard_port} (Ctrl-C stops)",
            flush=True,
        )
        try:
            _serve_until_stopped(
                lambda: run_server(
                    storage, host=serve.host, port=serve.dashboard_port, artifact_store=store
                )
            )
        except OSError as err:  # the port is taken (or the host is not this machine's)
            raise _cannot_listen("serve.dashboard_port", serve.dashboard_port, err) from None
    return 0


def _serve_until_stopped(serve: Callable[[], None]) -> None:
    """Run ``serve`` (a blocking server) in a background thread until Ctrl-C or SIGTERM.

    Not in the main thread: there the stop signal's exception could land inside a request,
    where the WSGI server's own error handling swallows it (it logs the traceback and
    serves on), and every later signal is ignored while stopping: the process would hang.
    The main thread only waits, so the signal always ends the wait; an error the server
    raises (a port taken) is raised here."""
    failed: list[BaseException] = []
    ended = threading.Event()

    def run() -> None:
        try:
            serve()
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            failed.append(err)
        finally:
            ended.set()

    threading.Thread(target=run, name="server", daemon=True).start()
    try:
        with interrupting_training():
            ended.wait()
    except Interrupted:
        return
    if failed:
        raise failed[0]


def tensorboard(root: Config, base: Experiment) -> int:
    """Serve TensorBoard on every trial's run in ``<paths.studies>/tensorboard``."""
    from tensorboard import program

    logdir = paths.tensorboard_dir(root.paths.studies)
    if not logdir.is_dir():
        raise ConfigError(
            "paths.studies",
            f"no TensorBoard runs in {logdir}: run a round first (with paths.tensorboard=true)",
        )
    for chatty in ("tensorboard", "werkzeug"):  # a line per file and per request otherwise
        logging.getLogger(chatty).setLevel(logging.WARNING)
    serve = root.serve
    board = program.TensorBoard()
    board.configure(
        logdir=str(logdir), host=serve.host, port=serve.tensorboard_port, load_fast="false"
    )
    try:
        url = board.launch()  # serves from a background thread
    except (program.TensorBoardServerException, OSError) as err:
        raise _cannot_listen("serve.tensorboard_port", serve.tensorboard_port, err) from None
    print(f"TensorBoard on {logdir}: {url} (Ctrl-C stops)", flush=True)
    try:
        with interrupting_training():
            threading.Event().wait()
    except Interrupted:
        pass
    return 0


def _cannot_listen(key: str, port: int, err: Exception) -> ConfigError:
    return ConfigError(key, f"cannot listen on port {port} ({err}); pick a free one: {key}=N")


def _existing_store(cfg: StorageConfig) -> None:
    """Refuse a file store that is not there (it would be created empty)."""
    if cfg.kind == "rdb":
        return
    if cfg.kind == "journal":
        key, file = "storage.path", Path(cfg.path)
    else:
        key, file = "storage.url", Path(cfg.url.removeprefix("sqlite:///"))
    if not file.is_file():
        raise ConfigError(key, f"no store at {file}: run a round first (or name your store)")


def _store_name(cfg: StorageConfig) -> str:
    return cfg.path if cfg.kind == "journal" else redact(cfg.url)
