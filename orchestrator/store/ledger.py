"""The orchestrator's own records, in the same database as the studies (tables of their own).

Rounds (name, goal, config, status, times), promotion decisions (candidate, incumbent,
per-seed evidence, effect and interval, rule, verdict, reason), and batch-size probes.
Tables are created idempotently. A decision is written in two steps around the incumbent
file: ``pending`` with all its evidence, then ``final`` once the file is in place, so a
crash in between is finished by re-running and a round never gets two decisions.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from orchestrator.config.sections import StorageConfig
from orchestrator.store.closing import ClosesOnExit
from orchestrator.store.decision_record import DecisionRecord


class Base(DeclarativeBase):
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Created:
    """A row that knows when it was written (its table is listed oldest first)."""

    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


RowT = TypeVar("RowT", bound=Created)


class RoundRow(Base):
    __tablename__ = "orchestrator_rounds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    goal: Mapped[str] = mapped_column(Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(32))  # running | finished | decided
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DecisionRow(Created, Base):
    __tablename__ = "orchestrator_decisions"
    __table_args__ = (UniqueConstraint("round_name", name="one_decision_per_round"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_name: Mapped[str] = mapped_column(String(255))
    candidate_study: Mapped[str] = mapped_column(String(512))
    candidate_trial: Mapped[int] = mapped_column(Integer)
    candidate_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    candidate_hash: Mapped[str] = mapped_column(String(64))
    incumbent_hash: Mapped[str] = mapped_column(String(64))
    seeds: Mapped[list[int]] = mapped_column(JSON)
    candidate_values: Mapped[list[float]] = mapped_column(JSON)
    incumbent_values: Mapped[list[float]] = mapped_column(JSON)
    effect: Mapped[float] = mapped_column(Float)
    ci_low: Mapped[float] = mapped_column(Float)
    ci_high: Mapped[float] = mapped_column(Float)
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    verdict: Mapped[str] = mapped_column(String(32))  # promoted | rejected | blocked
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # pending | final


class ProbeRow(Created, Base):
    __tablename__ = "orchestrator_probes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(255))
    recommended: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # every measured point and the verdict


def ledger_url(storage: StorageConfig, studies: str | Path) -> str:
    """The studies' own database; a journal store gets ``studies/ledger.db`` beside it."""
    if storage.kind == "journal":
        return f"sqlite:///{Path(studies) / 'ledger.db'}"
    return storage.url


class Ledger(ClosesOnExit):
    """A handle on the ledger tables (created on first use, idempotently).

    ``with Ledger(url) as ledger:`` disposes its engine on every way out.
    """

    def __init__(self, url: str) -> None:
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            kwargs = {"connect_args": {"timeout": 60}}
        self.engine: Engine = create_engine(url, **kwargs)
        Base.metadata.create_all(self.engine)

    def __enter__(self) -> Ledger:
        return self

    def close(self) -> None:
        self.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine) as session, session.begin():
            yield session

    def start_round(self, name: str, goal: str, config: dict[str, Any]) -> None:
        with self.session() as s:
            row = s.scalar(select(RoundRow).where(RoundRow.name == name))
            if row is None:
                s.add(RoundRow(name=name, goal=goal, config=_jsonable(config), status="running"))
            elif row.status == "running":
                row.config = _jsonable(config)

    def set_round_status(self, name: str, status: str) -> None:
        with self.session() as s:
            row = s.scalar(select(RoundRow).where(RoundRow.name == name))
            if row is not None:
                row.status = status
                if status != "running" and row.finished_at is None:
                    row.finished_at = _now()

    def decision(self, round_name: str) -> DecisionRow | None:
        with Session(self.engine) as s:
            row = s.scalar(select(DecisionRow).where(DecisionRow.round_name == round_name))
            if row is not None:
                s.expunge(row)
            return row

    def record(self, round_name: str) -> DecisionRecord | None:
        """The round's decision as a plain record (for the report and the answer)."""
        row = self.decision(round_name)
        if row is None:
            return None
        return DecisionRecord.from_dict(
            {c.name: getattr(row, c.name) for c in row.__table__.columns}
        )

    def record_pending(self, decision: DecisionRecord) -> None:
        """The decision with all its evidence, before the incumbent file (``pending``)."""
        with self.session() as s:
            s.add(DecisionRow(**_jsonable({**decision.to_dict(), "state": "pending"})))

    def finalise(self, round_name: str) -> None:
        with self.session() as s:
            row = s.scalar(select(DecisionRow).where(DecisionRow.round_name == round_name))
            if row is not None:
                row.state = "final"

    def _all(self, table: type[RowT]) -> list[RowT]:
        """Every row of ``table``, oldest first, detached so it outlives the session."""
        with Session(self.engine) as s:
            created_at = table.created_at  # every ledger table has one
            rows = list(s.scalars(select(table).order_by(created_at)))
            s.expunge_all()
            return rows

    def decisions(self) -> list[DecisionRow]:
        return self._all(DecisionRow)

    def reruns(self, config_hash: str, steps: int | None) -> dict[int, float]:
        """Per-seed values of earlier reruns of this config and step budget (any decision)."""
        out: dict[int, float] = {}
        for row in self.decisions():
            for hash_, values in (
                (row.candidate_hash, row.candidate_values),
                (row.incumbent_hash, row.incumbent_values),
            ):
                if hash_ == config_hash and row.rule.get("steps") == steps:
                    out.update(zip(row.seeds, values, strict=True))
        return out

    def record_probe(self, result: dict[str, Any]) -> None:
        with self.session() as s:
            s.add(
                ProbeRow(
                    model=result["model"],
                    data=result["data"],
                    device=result["device"],
                    recommended=result["verdict"]["recommended"],
                    result=_jsonable(result),
                )
            )

    def probes(self) -> list[ProbeRow]:
        return self._all(ProbeRow)

    def dispose(self) -> None:
        self.engine.dispose()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))
