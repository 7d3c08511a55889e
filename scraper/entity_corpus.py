"""Score the entity extractors against the labelled corpus in ``tests/corpus/entities``.

Each case is ``<case>.expected.json`` beside its file: ``kind`` "page" (an HTML detail page,
read as the pipeline reads it: detail tables + body lines, role from the page title) or
"attachment" (read with :func:`scraper.attachments.read_tables`, role from the attachment's
``title``), and the hand-written ``entities``. A case may name ``requires`` (programs such as
antiword, any one of which is enough); without them, or without its file (a fixture the
generator could not make), it is skipped, never scored.

An entity matches when its normalised name, region, city and role agree with a labelled one.
``evaluate_entities()`` returns tp / fp / fn, precision, recall, f1 and one record per case.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from config.regions import Regions, load_regions
from scraper import entities as ents
from scraper.attachments import AttachmentError, read_tables
from scraper.decode import decode
from scraper.models import Entity
from scraper.parse.detail import parse as parse_detail

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "entities"
FIELDS = ("name", "region", "city", "category", "role", "row")


def cases(corpus_dir: Path | str = CORPUS) -> list[tuple[str, dict[str, Any]]]:
    """(case name, spec) for every ``*.expected.json``, sorted by name."""
    out = []
    for path in sorted(Path(corpus_dir).glob("*.expected.json")):
        out.append((path.name.removesuffix(".expected.json"), json.loads(path.read_text(encoding="utf-8"))))
    return out


def skip_reason(spec: dict[str, Any], corpus_dir: Path | str = CORPUS) -> str | None:
    """Why a case cannot run here, or None."""
    if not (Path(corpus_dir) / spec["file"]).exists():
        return f"{spec['file']} was not generated (see make_attachments.py)"
    tools = spec.get("requires") or []
    if tools and not any(shutil.which(t) for t in tools):
        return f"{spec['file']} needs {' or '.join(tools)}, and none is installed"
    return None


def extract(spec: dict[str, Any], corpus_dir: Path | str = CORPUS, regions: Regions | None = None) -> list[Entity]:
    """The entities the extractors find in one case's file (raises AttachmentError for bad files)."""
    regions = regions or load_regions()
    data = (Path(corpus_dir) / spec["file"]).read_bytes()
    if spec["kind"] == "page":
        html, _ = decode(data, "text/html")
        detail = parse_detail(html, spec["url"])
        role = ents.role_of(detail.title)
        found = ents.from_tables(detail.tables, regions=regions, role=role, provenance="page")
        found += ents.from_lines(detail.body, regions=regions, role=role, provenance="page")
        return ents.unique(found)
    tables = read_tables(data, spec.get("title") or spec["file"])
    provenance = "attachment:" + hashlib.sha256(data).hexdigest()
    return ents.unique(ents.from_tables(tables, regions=regions, role=ents.role_of(spec.get("title") or spec["file"]),
                                   provenance=provenance))


def as_label(e: Entity) -> dict[str, Any]:
    return {f: getattr(e, f) for f in FIELDS}


def _key(d: dict[str, Any]) -> tuple[Any, ...]:
    return (ents.normalise_name(d["name"]), d["region"], d["city"], d["role"])


def score_case(expected: list[dict[str, Any]], found: list[dict[str, Any]]) -> dict[str, Any]:
    want, got = Counter(_key(d) for d in expected), Counter(_key(d) for d in found)
    tp = sum((want & got).values())
    return {"tp": tp, "fp": sum(got.values()) - tp, "fn": sum(want.values()) - tp,
            "missing": sorted("|".join(map(str, k)) for k in (want - got).elements()),
            "extra": sorted("|".join(map(str, k)) for k in (got - want).elements())}


def evaluate_entities(corpus_dir: Path | str = CORPUS) -> dict[str, Any]:
    """Precision, recall and F1 of the extractors over the corpus, with one record per case."""
    regions = load_regions()
    records: list[dict[str, Any]] = []
    for name, spec in cases(corpus_dir):
        record: dict[str, Any] = {"case": name, "kind": spec["kind"], "file": spec["file"],
                                  "expected": len(spec["entities"])}
        reason = skip_reason(spec, corpus_dir)
        if reason:
            records.append({**record, "skipped": reason})
            continue
        try:
            found = [as_label(e) for e in extract(spec, corpus_dir, regions)]
            error = None
        except AttachmentError as e:
            found, error = [], str(e)
        records.append({**record, "found": len(found), "error": error, **score_case(spec["entities"], found)})
    return {**totals(records), "cases": records}


def totals(records: list[dict[str, Any]]) -> dict[str, Any]:
    tp = sum(r.get("tp", 0) for r in records)
    fp = sum(r.get("fp", 0) for r in records)
    fn = sum(r.get("fn", 0) for r in records)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(f1, 4)}


def main() -> None:  # pragma: no cover -- a convenience: python -m scraper.entity_corpus
    report = evaluate_entities()
    for r in report["cases"]:
        status = r.get("skipped") or r.get("error") or f"tp {r['tp']} fp {r['fp']} fn {r['fn']}"
        print(f"{r['case']:<28} {status}")
        for line in r.get("missing", []):
            print(f"    missing {line}")
        for line in r.get("extra", []):
            print(f"    extra   {line}")
    print(f"precision {report['precision']} recall {report['recall']} f1 {report['f1']}")


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["CORPUS", "as_label", "cases", "evaluate_entities", "extract", "score_case", "skip_reason"]
