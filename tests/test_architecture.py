"""The one-way import rule and each outside library's single home (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "db", "notifier", "scraper")

# A module may import only from layers at or below its own.
LAYER = {
    "config": 0, "scraper.models": 0, "scraper.errors": 0, "scraper.timeutil": 0, "scraper.text": 0,
    "scraper.faults": 0, "scraper.logs": 0, "scraper.files": 0,
    "scraper.decode": 1, "scraper.blocked": 1, "scraper.parse": 1, "scraper.diff": 1, "scraper.understand": 1,
    "scraper.cnnum": 0, "scraper.titles": 1, "scraper.classify": 1, "scraper.entities": 1, "scraper.attachments": 1,
    "scraper.entity_corpus": 4, "scraper.evaluate": 5,
    "scraper.fetch": 1, "scraper.netguard": 0.5, "scraper.archive": 1, "scraper.robots": 0, "scraper.health": 1,
    "scraper.export": 1,
    "db": 2,
    "notifier": 3, "notifier.test_message": 3.5,
    "scraper.feeds": 4.5,  # [feeds] files, written by scraper.schedule (daemon) and scraper.runner (run --once)
    "scraper.listing": 2, "scraper.context": 3.5, "scraper.downloads": 3.7, "scraper.pipeline": 4, "scraper.checker": 4,
    "scraper.analyse": 3.8, "scraper.extractor": 4, "scraper.schedule": 5, "scraper.status": 6, "scraper.runner": 6, "scraper.demo": 7, "scraper.ui": 7, "scraper.clikit": 7.5, "scraper.cli_": 7.6, "scraper.cli": 8, "scraper.__main__": 9,  # scraper.cli_*: command modules
    "scraper": 0,  # scraper/__init__.py re-exports models and errors only
}
HOMES = {
    "httpx": {"scraper.fetch", "scraper.netguard", "notifier.webhook", "notifier.chat", "notifier.dingtalk", "notifier.wecom", "notifier.feishu", "notifier.slack"},
    "selectolax": {"scraper.parse"},
    "sqlite_utils": {"db"},
    "sqlite3": {"db"},
    "apscheduler": {"scraper.schedule"},
    "smtplib": {"notifier.email"},
    "aiosmtpd": {"scraper.demo"},
    "openpyxl": {"scraper.attachments", "scraper.export"},
    "xlrd": {"scraper.attachments"},
    "docx": {"scraper.attachments"},
    "pdfplumber": {"scraper.attachments"},
}


def modules() -> list[tuple[str, Path]]:
    out = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            out.append((".".join(parts), path))
    return out


def layer_of(module: str) -> int:
    best = None
    for prefix, layer in LAYER.items():
        if module == prefix or module.startswith(prefix + ".") or (prefix.endswith("_") and module.startswith(prefix)):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, layer)
    assert best is not None, f"{module} has no layer in LAYER"
    return best[1]


def imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, at runtime?) pairs; TYPE_CHECKING blocks are not runtime."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for n in ast.walk(node))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) not in typing_only) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, id(node) not in typing_only))
    return out


@pytest.mark.parametrize("module, path", modules(), ids=lambda x: str(x) if isinstance(x, str) else "")
def test_imports_flow_one_way(module: str, path: Path) -> None:
    mine = layer_of(module)
    for imported, runtime in imports(path):
        top = imported.split(".")[0]
        if top in PACKAGES and runtime:
            assert layer_of(imported) <= mine, f"{module} (layer {mine}) imports {imported} (layer {layer_of(imported)})"
        if top in HOMES and runtime:
            assert any(module == h or module.startswith(h + ".") for h in HOMES[top]), \
                f"{module} imports {top}, whose only home is {sorted(HOMES[top])}"


def test_packages_are_ours() -> None:
    """Unrelated PyPI distributions called config/db/notifier/scraper must not shadow ours."""
    import config
    import db
    import notifier
    import scraper

    for mod in (config, db, notifier, scraper):
        assert Path(mod.__file__).resolve().is_relative_to(ROOT), mod.__file__


@pytest.mark.parametrize("pkg", PACKAGES)
def test_public_surface_is_sorted_and_importable(pkg: str) -> None:
    mod = __import__(pkg)
    assert mod.__all__ == sorted(mod.__all__)
    for name in mod.__all__:
        assert hasattr(mod, name), f"{pkg}.{name}"
