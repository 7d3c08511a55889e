"""Score the classifier against the labelled title corpus, and the entity extractors when they exist.

    python -m scraper.evaluate [--corpus tests/corpus/titles.jsonl]

Prints the accuracy of every classification field and each misclassified title with what differed, then
the entities' precision, recall and F1 from ``scraper.entity_corpus.evaluate_entities()`` (or "entity corpus
not available"). Exits 1 when a field is under 98 % or the entity F1 is under 0.98, else 0.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from config.programs import Registry
from scraper.classify import classify

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "titles.jsonl"
FIELDS = ("program", "program_name", "level", "stage", "review", "batch", "year", "cohorts", "region")
TARGET = 0.98


@dataclass(frozen=True)
class Case:
    """One labelled title: its id, the title (and body, when the label needs it), the expected fields."""

    id: str
    title: str
    expected: dict[str, Any]
    body: str | None = None


@dataclass(frozen=True)
class Miss:
    case: Case
    got: dict[str, Any]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class TitleReport:
    total: int
    correct: dict[str, int]  # field -> titles where it matched
    misses: tuple[Miss, ...] = field(default=())

    def accuracy(self, name: str) -> float:
        return self.correct[name] / self.total if self.total else 1.0

    def below(self, target: float = TARGET) -> list[str]:
        return [f for f in FIELDS if self.accuracy(f) < target]


def load_corpus(path: Path | str = CORPUS) -> list[Case]:
    """The labelled titles, one JSON object a line; raises ValueError naming the line of a bad row."""
    cases = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if set(row["expected"]) != set(FIELDS):
                raise ValueError(f"expected keys must be exactly {', '.join(FIELDS)}")
            cases.append(Case(row["id"], row["title"], row["expected"], row.get("body")))
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}:{n}: {e}") from None
    return cases


def evaluate_titles(cases: Sequence[Case], registry: Registry | None = None) -> TitleReport:
    """Classify every case and count, per field, the titles where it matches the label."""
    correct = dict.fromkeys(FIELDS, 0)
    misses = []
    for case in cases:
        got = classify(case.title, case.body, registry).as_dict()
        wrong = tuple(f for f in FIELDS if got[f] != case.expected[f])
        for f in FIELDS:
            correct[f] += f not in wrong
        if wrong:
            misses.append(Miss(case, got, wrong))
    return TitleReport(len(cases), correct, tuple(misses))


def entity_report(load: Callable[[str], Any] = importlib.import_module) -> dict[str, Any] | None:
    """``scraper.entity_corpus.evaluate_entities()``, or None when that module is not there."""
    try:
        module = load("scraper.entity_corpus")
    except ModuleNotFoundError as e:
        if e.name not in ("scraper.entity_corpus", "scraper"):
            raise
        return None
    return module.evaluate_entities()


def scores(report: dict[str, Any]) -> tuple[float, float, float]:
    """Precision, recall and F1 from the report's tp / fp / fn (1.0 when there is nothing to find)."""
    tp, fp, fn = report["tp"], report["fp"], report["fn"]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def print_titles(report: TitleReport, out: Any = None) -> None:
    out = out or sys.stdout
    print(f"titles: {report.total}", file=out)
    for f in FIELDS:
        flag = "" if report.accuracy(f) >= TARGET else "   << below 98%"
        print(f"  {f:<13} {report.accuracy(f):7.2%}  ({report.correct[f]}/{report.total}){flag}", file=out)
    print(f"misclassified titles: {len(report.misses)}", file=out)
    for miss in report.misses:
        print(f"  [{miss.case.id}] {miss.case.title}", file=out)
        for f in miss.fields:
            exp, got = json.dumps(miss.case.expected[f], ensure_ascii=False), json.dumps(miss.got[f], ensure_ascii=False)
            print(f"      {f}: expected {exp}, got {got}", file=out)


def print_entities(report: dict[str, Any] | None, out: Any = None) -> None:
    out = out or sys.stdout
    if report is None:
        print("entities: entity corpus not available", file=out)
        return
    precision, recall, f1 = scores(report)
    print(f"entities: tp {report['tp']} fp {report['fp']} fn {report['fn']}  "
          f"precision {precision:.4f} recall {recall:.4f} F1 {f1:.4f}", file=out)
    for case in report.get("cases", []):
        if not isinstance(case, dict):
            continue
        problem = case.get("skipped") or case.get("error")
        if problem or case.get("fp") or case.get("fn"):
            print(f"  [{case.get('case')}] {problem or ''}".rstrip(), file=out)
            for line in case.get("missing", []):
                print(f"      missing {line}", file=out)
            for line in case.get("extra", []):
                print(f"      extra   {line}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scraper.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(CORPUS), help="the labelled titles (JSON lines)")
    args = parser.parse_args(argv)
    titles = evaluate_titles(load_corpus(args.corpus))
    print_titles(titles)
    entities = entity_report()
    print_entities(entities)
    failed = titles.below()
    if entities is not None and scores(entities)[2] < TARGET:
        failed.append("entity F1")
    if failed:
        print(f"FAIL: below target: {', '.join(failed)}")
        return 1
    print("OK: every field at or above 98%" + ("" if entities is None else " and entity F1 at or above 0.98"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
