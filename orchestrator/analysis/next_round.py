"""The next-round draft: where the playbook goes after this round, with the reasons.

Pure: a round config (as plain data), its findings and its studies' scientific points in,
a new round config and the reasons for each change out. Never the same round again:

- **exploration goes on** while a question it was asked is open for a scientific value
  other than the winner (a range edge, an infeasible region, thin sampling): the
  comparison may be unfair to that value, so the draft answers it (``boundary`` widens a
  range on the side where the best trials sit; ``infeasible`` trims it away from the
  diverging region and wins over a widening of the same side; ``failed`` trims it away
  from where trials crashed, or drops a categorical value at which every trial did), with
  a new sampler seed so no trial is a replay;
- a learning-rate **sweep** drafts its denser grid (``_sweep``);
- otherwise the draft is the **exploitation round**: the winning scientific value fixed,
  a Bayesian sampler (TPE) over the remaining nuisance params (the winner's own range
  questions applied), as many trials as the round spent on all its values, pruning
  allowed; its studies start from this round's trials of the winner (``work/carry.py``).

In every draft ``importance`` moves a nuisance param that is negligible (on evidence, see
``importance.py``) in every study to ``fixed`` at a value they agree on, and
``step_budget`` sets the training length. The draft is validated as a round before it is
written.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Collection, Mapping
from typing import Any

import yaml

from orchestrator.analysis.advice import TRIMMING
from orchestrator.analysis.agreement import agreed_value
from orchestrator.analysis.model import StudyRecord
from orchestrator.rounds.sampling import adam_budget_nuisance
from orchestrator.store.findings import Finding, Kind, Severity

# kinds that keep exploration going
OPEN_QUESTIONS = (Kind.BOUNDARY, Kind.INFEASIBLE, Kind.FAILED, Kind.DENSITY)
NEW_SEED = "budget.seed"  # every draft's routine change: not one the findings asked for


def changes_made(reasons: list[str]) -> list[str]:
    """The draft's changes the round's analysis made (every reason but the new seed)."""
    return [r for r in reasons if not r.startswith(f"{NEW_SEED}:")]


def draft_summary(reasons: list[str]) -> str:
    """How the draft differs from the round, counted once for every place that says it
    (the draft's header, the answer's next step, the stage's last line): issue 25's draft
    said "no finding suggested a change" while the summary counted "(1 changes)"."""
    n = len(changes_made(reasons))
    seed = " a new sampler seed" if len(reasons) > n else ""
    if n == 0:
        return f"no change but{seed}" if seed else "no change"
    return f"{n} change{'s' if n > 1 else ''}" + (f" and{seed}" if seed else "")


def draft_next_round(
    round_cfg: dict[str, Any],
    findings: list[Finding],
    points: Mapping[str, dict[str, Any]],
    *,
    spent: int = 0,
    stopped: Collection[str] = (),
) -> tuple[dict[str, Any], list[str]]:
    """(the draft round config, one line per change saying why).

    ``points``: each study's name and scientific point; ``spent``: the trials the round
    finished over all its studies (the exploitation round's budget); ``stopped``: the
    studies racing stopped."""
    draft = copy.deepcopy(round_cfg)
    draft["name"] = f"{round_cfg['name']}_next"
    draft["start_from"] = "incumbent"
    reasons: list[str] = []
    budget = draft.setdefault("budget", {})
    seed = int(budget.get("seed") or 0)
    budget["seed"] = seed + 1
    reasons.append(f"{NEW_SEED}: {seed} -> {seed + 1} (a new round never replays a sampler)")
    winner = _winner(findings, points)
    sweeping = any(f.kind == Kind.SWEEP and f.suggestion for f in findings)
    open_for = _open_questions(findings, winner, stopped) if len(points) > 1 else []
    exploring = sweeping or bool(open_for) or winner is None
    if exploring:
        if open_for:
            reasons.append(
                "exploration goes on: open for " + "; ".join(open_for) + " (the comparison "
                "may be unfair to those values until it is answered)"
            )
        n_studies = len(points)
    else:
        assert winner is not None
        findings = [f for f in findings if f.study in (None, winner)]
        _exploit(draft, points[winner], winner, spent, reasons)
        n_studies = 1
    _widen(draft, findings, reasons)
    _trim(draft, findings, reasons)
    _fix_negligible(draft, findings, n_studies, reasons)
    _step_budget(draft, findings, reasons)
    _sweep(draft, findings, reasons)
    if exploring:
        _no_pruning_when_exploring(draft, findings, reasons)
    return draft, reasons


def draft_of(
    round_cfg: dict[str, Any], findings: list[Finding], studies: list[StudyRecord]
) -> tuple[dict[str, Any], list[str]]:
    """The draft of a round whose studies are loaded: their points and finished trials."""
    points = {s.name: dict(s.point) for s in studies}
    spent = sum(
        t.state in ("complete", "infeasible", "pruned") and not t.carried
        for s in studies
        for t in s.trials
    )
    stopped = [s.name for s in studies if s.stopped]
    return draft_next_round(round_cfg, findings, points, spent=spent, stopped=stopped)


def _winner(findings: list[Finding], points: Mapping[str, dict[str, Any]]) -> str | None:
    """The study the comparison found best (the only one when there is one)."""
    if len(points) == 1:
        return next(iter(points))
    for f in findings:
        if (
            f.kind == Kind.COMPARISON
            and f.severity == Severity.INFO
            and f.suggestion.get("winner")
        ):
            name = f.suggestion["winner"]
            return name if name in points else None
    return None


def _open_questions(
    findings: list[Finding], winner: str | None, stopped: Collection[str] = ()
) -> list[str]:
    """The studies other than the winner with an open exploration question, and which.
    A study racing stopped is thin on purpose: its thin sampling is no question."""
    open_: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        if f.kind == Kind.DENSITY and f.study in stopped:
            continue
        if (
            f.kind in OPEN_QUESTIONS
            and f.severity != Severity.INFO
            and f.study not in (None, winner)
        ):
            if f.kind == Kind.DENSITY or f.suggestion:
                open_[f.study].add(f.kind)
    return [f"{study} ({', '.join(sorted(kinds))})" for study, kinds in sorted(open_.items())]


def _exploit(
    draft: dict[str, Any],
    point: dict[str, Any],
    winner: str,
    spent: int,
    reasons: list[str],
) -> None:
    """The exploitation round: the winner's scientific values fixed, TPE over the rest."""
    fixed = draft.setdefault("fixed", {})
    for path, value in point.items():
        fixed[path] = value
        reasons.append(f"{path}: scientific -> fixed at {value} (the winner, {winner})")
    draft["scientific"] = {}
    budget = draft["budget"]
    trials = max(spent, budget.get("trials_per_study") or 0, 1)
    _settle_conditions(draft, point, trials, reasons)
    old = budget.get("sampler", "qmc")
    budget["sampler"] = "tpe"
    budget.pop("grid", None)
    budget["trials_per_study"] = trials
    reasons.append(
        f"budget: sampler {old} -> tpe, {trials} trials (exploitation: the exploration "
        "questions are answered, so the round's whole budget goes to the best "
        "configuration, starting from the trials already run there)"
    )
    promotion = draft.get("promotion")
    if isinstance(promotion, dict):
        promotion.pop("candidate", None)  # it named a scientific point
    if point:
        at = ", ".join(f"{k}={v}" for k, v in point.items())
        draft["goal"] = f"Exploitation: the best configuration at {at} (the winner of {winner})"


def _settle_conditions(
    draft: dict[str, Any], point: dict[str, Any], trials: int, reasons: list[str]
) -> None:
    """With the winner's values fixed, a ``when`` on them either always holds (the pair is
    dropped) or never does (the range or preset is dropped): a nuisance range for SGD is
    gone once AdamW won. A preset that now always applies becomes the explicit ranges it
    stands for at the draft's budget (an explicit range of the same param wins)."""

    def settle(spec: dict[str, Any]) -> dict[str, Any] | None:
        when = dict(spec.get("when") or {})
        if any(p in point and point[p] != v for p, v in when.items()):
            return None
        rest = {p: v for p, v in when.items() if p not in point}
        settled = {k: v for k, v in spec.items() if k != "when"}
        return {**settled, "when": rest} if rest else settled

    nuisance = draft.get("nuisance", {})
    for path in list(nuisance):
        specs = nuisance[path] if isinstance(nuisance[path], list) else [nuisance[path]]
        kept = [s for s in (settle(dict(x)) for x in specs) if s is not None]
        if not kept:
            del nuisance[path]
            reasons.append(f"{path}: dropped (its ranges apply only to values that lost)")
        else:
            nuisance[path] = kept if len(kept) > 1 else kept[0]
    presets = draft.get("presets", {})
    for name in list(presets):
        settled = settle(dict(presets[name] or {}))
        if settled is None:
            del presets[name]
            reasons.append(f"presets.{name}: dropped (it applies only to values that lost)")
        elif settled.get("when"):
            presets[name] = settled
        else:  # always applies now: its ranges, written out
            del presets[name]
            added = {p: s for p, s in adam_budget_nuisance(trials).items() if p not in nuisance}
            nuisance.update(added)
            reasons.append(
                f"presets.{name}: written out as {', '.join(added) or 'nothing new'} (the "
                "winner makes it apply to every trial)"
            )


def _single_range(draft: dict[str, Any], param: str | None) -> dict[str, Any] | None:
    """The param's nuisance range when it has exactly one (several ranges are left alone)."""
    spec = draft.get("nuisance", {}).get(param)
    return spec if isinstance(spec, dict) and "low" in spec else None


def _widen(draft: dict[str, Any], findings: list[Finding], reasons: list[str]) -> None:
    wanted: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        if f.kind == Kind.BOUNDARY and f.param and f.suggestion:
            ((edge, value),) = f.suggestion.items()
            wanted[(f.param, edge)].append(f)
    for (param, edge), fs in wanted.items():
        spec = _single_range(draft, param)
        if spec is None:
            continue
        values = [f.suggestion[edge] for f in fs]
        new = min(values) if edge == "low" else max(values)
        reasons.append(
            f"{param}: {edge} {spec[edge]} -> {new} (boundary: the objective improves toward "
            f"the {edge} edge in {len(fs)} stud{'y' if len(fs) == 1 else 'ies'})"
        )
        spec[edge] = new


def _trim(draft: dict[str, Any], findings: list[Finding], reasons: list[str]) -> None:
    """Ranges trimmed to where trials trained (``infeasible``) or ran (``failed``)."""
    for f in findings:
        s = f.suggestion
        if f.kind not in TRIMMING or "param" not in s:
            continue
        if "drop" in s:
            _drop_choices(draft, f, reasons)
            continue
        spec = _single_range(draft, s["param"])
        if spec is None:
            continue
        for edge in ("low", "high"):
            if edge in s and spec["low"] < s[edge] < spec["high"]:
                reasons.append(
                    f"{s['param']}: {edge} {spec[edge]} -> {s[edge]} ({f.kind}: {f.message})"
                )
                spec[edge] = s[edge]


def _drop_choices(draft: dict[str, Any], f: Finding, reasons: list[str]) -> None:
    """Categorical values at which every trial failed, dropped from the param's choices;
    one value left is fixed (a choice of one is no search)."""
    param, drop = f.suggestion["param"], list(f.suggestion["drop"])
    nuisance = draft.get("nuisance", {})
    spec = nuisance.get(param)
    if not isinstance(spec, dict) or "choices" not in spec:
        return  # several alternatives, or no longer a nuisance param: left alone
    kept = [c for c in spec["choices"] if c not in drop]
    if not kept or len(kept) == len(spec["choices"]):
        return
    old = list(spec["choices"])
    why = f"failed: {f.message}"
    if len(kept) == 1 and not spec.get("when"):
        del nuisance[param]
        draft.setdefault("fixed", {})[param] = kept[0]
        reasons.append(f"{param}: choices {old} -> fixed at {kept[0]} ({why})")
        return
    spec["choices"] = kept
    reasons.append(f"{param}: choices {old} -> {kept} ({why})")


def _fix_negligible(
    draft: dict[str, Any], findings: list[Finding], n_studies: int, reasons: list[str]
) -> None:
    """A param negligible in every study is fixed, at a value its studies agree on."""
    flagged: dict[str, list[Any]] = defaultdict(list)
    for f in findings:
        if f.kind == Kind.IMPORTANCE and f.param and "fixed" in f.suggestion:
            flagged[f.param].append(f.suggestion["fixed"])
    for param, values in flagged.items():
        if len(values) < n_studies or param not in draft.get("nuisance", {}):
            continue  # negligible in every study, or it may matter for some scientific value
        value = agreed_value(draft["nuisance"][param], values, param)
        if value is None:
            reasons.append(
                f"{param}: left tuned (importance: negligible in all {n_studies} studies, but "
                f"their best values {', '.join(map(str, values))} disagree)"
            )
            continue
        del draft["nuisance"][param]
        draft.setdefault("fixed", {})[param] = value
        reasons.append(
            f"{param}: nuisance -> fixed at {value} (importance: negligible in "
            f"all {n_studies} studies)"
        )


def _step_budget(draft: dict[str, Any], findings: list[Finding], reasons: list[str]) -> None:
    """The training length the step-budget finding suggests, under the key it names."""
    for f in findings:
        if f.kind != Kind.STEP_BUDGET or not f.suggestion:
            continue
        ((key, new),) = f.suggestion.items()
        role = next((r for r in ("scientific", "nuisance") if key in draft.get(r, {})), None)
        if role is not None:  # a param has one role: the length stays the round's to vary
            reasons.append(f"{key}: left as it is ({role} here; step_budget suggests {new})")
            continue
        old = draft.get("fixed", {}).get(key, "the start config's")
        draft.setdefault("fixed", {})[key] = new
        reasons.append(f"{key}: {old} -> {new} (step_budget: {f.message})")


def _sweep(draft: dict[str, Any], findings: list[Finding], reasons: list[str]) -> None:
    """A sweep's next round: a denser grid around its choice, at the step budget it read.

    The grid stays inside the draft's range for the param (after any trim away from a
    diverging region, so it never lands there); several sweep studies share one grid (the
    union) and one length (the longest)."""
    sweeps = [f for f in findings if f.kind == Kind.SWEEP and f.param and "grid" in f.suggestion]
    if not sweeps:
        return
    param = str(sweeps[0].param)
    spec = draft.get("nuisance", {}).get(param)
    low, high = -math.inf, math.inf
    if isinstance(spec, dict) and "low" in spec:
        low, high = spec["low"], spec["high"]
    chosen = sorted({f.suggestion[param] for f in sweeps})
    values = [v for f in sweeps for v in (*f.suggestion["grid"], f.suggestion[param])]
    grid = sorted({v for v in values if low <= v <= high})
    if grid:
        budget = draft.setdefault("budget", {})
        budget.setdefault("grid", {})
        old = budget["grid"].get(param)
        budget["grid"][param] = grid
        budget["trials_per_study"] = len(grid)
        around = ", ".join(map(str, chosen))
        reasons.append(f"{param}: grid {old} -> {grid} (sweep: denser around {around})")
    keys = {k for f in sweeps for k in f.suggestion if k not in (param, "grid")}
    for key in sorted(keys):
        steps = max(f.suggestion[key] for f in sweeps if key in f.suggestion)
        role = next((r for r in ("scientific", "nuisance") if key in draft.get(r, {})), None)
        if role is not None:
            reasons.append(f"{key}: left as it is ({role} here; the sweep suggests {steps})")
            continue
        previous = draft.get("fixed", {}).get(key, "the start config's")
        draft.setdefault("fixed", {})[key] = steps
        reasons.append(f"{key}: {previous} -> {steps} (sweep: {sweeps[0].message})")


def _no_pruning_when_exploring(
    draft: dict[str, Any], findings: list[Finding], reasons: list[str]
) -> None:
    """A pruner warned about in an exploration round is turned off in the draft."""
    if any(f.kind == Kind.PRUNING and f.severity == Severity.WARN for f in findings):
        budget = draft.setdefault("budget", {})
        reasons.append(f"budget.pruner: {budget.get('pruner')} -> none (pruning: exploration)")
        budget["pruner"] = "none"


def render(draft: dict[str, Any], reasons: list[str], source: str) -> str:
    """The draft as YAML, headed by comments that say what changed and why."""
    header = [
        f"# Next-round draft, made from {source} by the analysis stage.",
        "# Copy it into your config dir's round/ folder as <name>.yaml (the built-in "
        "experiment's: orchestrator/conf/round/), set its goal, and run it.",
        f"# Changes ({draft_summary(reasons)}):",
    ]
    header += [f"#  - {r}" for r in reasons]
    return "\n".join(header) + "\n" + yaml.safe_dump(draft, sort_keys=False)
