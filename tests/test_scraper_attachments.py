"""scraper.attachments: formats, sniffing, hostile files, missing libraries and converters.

The fixture files are made by tests/corpus/entities/make_attachments.py (committed with
their outputs); nothing is downloaded.
"""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import stat
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from scraper import attachments
from scraper.attachments import AttachmentError, UnsafeAttachment, UnsupportedFormat, read_tables, sniff
from scraper.errors import ScraperError

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "entities"
HOSTILE = CORPUS / "hostile"
SPECS = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(CORPUS.glob("*.expected.json"))]
FILES = [s for s in SPECS if s["kind"] == "attachment"]
HAS_DOC_TOOL = bool(shutil.which("antiword") or shutil.which("catdoc"))
NEEDS_DOC_TOOL = pytest.mark.skipif(not HAS_DOC_TOOL, reason="neither antiword nor catdoc is installed "
                                                              "(apt-get install antiword) - the .doc/.wps path is not exercised")
SENTINEL = Path("/tmp/clusterwatch-xxe-sentinel.txt")  # the path baked into hostile/xxe.docx


def _read(name: str) -> tuple[tuple[tuple[str, ...], ...], ...]:
    return read_tables((CORPUS / name).read_bytes(), name)


def test_error_types() -> None:
    assert issubclass(UnsupportedFormat, AttachmentError) and issubclass(UnsafeAttachment, AttachmentError)
    assert issubclass(AttachmentError, ScraperError)


@pytest.mark.parametrize("spec", FILES, ids=lambda s: s["file"])
def test_corpus_attachments_read_into_their_tables(spec: dict) -> None:
    if spec.get("requires") and not HAS_DOC_TOOL:
        pytest.skip(f"{spec['file']} needs antiword or catdoc, neither is installed")
    found = read_tables((CORPUS / spec["file"]).read_bytes(), spec["title"])
    assert len(found) == spec["tables"]
    for table in found:
        assert table and len({len(r) for r in table}) == 1 and all(any(r) for r in table)


def test_xlsx_rows_and_numbers() -> None:
    main, notes = _read("new_firms.xlsx")
    assert main[0] == ("2025年浙江省专精特新中小企业新认定名单", "", "", "")  # merged title: value in its first cell
    assert main[1] == ("序号", "企业名称", "所在设区市", "所在县（市、区）")
    assert main[2] == ("1", "嘉兴博创智能传感科技有限公司", "嘉兴市", "平湖市")
    assert main[-1] == ("合计", "6家", "", "")
    assert len(main) == 9  # the empty spacer row is gone
    assert notes == (("本名单按申报顺序排列。",),)


def test_xls_numbers_are_not_floats_and_merged_cells_are_filled() -> None:
    (table,) = _read("review_passed.xls")
    assert table[2] == ("1", "绍兴柯桥汇丽印染有限公司", "绍兴市", "柯桥区")
    assert table[4] == ("3", "浙江新昌三雄轴承有限公司", "绍兴市", "新昌县")  # 绍兴市 merged over three rows
    assert table[5] == ("4", "温州瓯海眼镜有限公司", "温州市", "瓯海区")


def test_docx_tables_get_their_caption_and_merged_cells_repeat() -> None:
    first, second, _ = _read("hangzhou_tables.docx")
    assert first[:2] == (("一、数字经济类",) * 3, ("序号", "企业名称", "区、县（市）"))
    assert second[2] == ("萧山区（2家）", "萧山区（2家）")


def test_docx_without_tables_gives_its_paragraphs_as_lines() -> None:
    (table,) = _read("paragraphs.docx")
    assert table[2] == ("1.金华市婺城区永盛五金厂",) and all(len(r) == 1 for r in table)


def test_pdf_tables_then_text_lines() -> None:
    table, lines = _read("national_list.pdf")
    assert table[0] == ("序号", "省（区、市）", "企业名称")
    assert table[1] == ("1", "浙江省", "杭州长川智能制造股份有限公司")
    assert lines[:3] == (("118",), ("宁夏电力设计研究院",), ("银川市 金凤区",))


def test_pdf_page_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attachments, "MAX_PAGES", 1)
    assert len(_read("national_list.pdf")) == 1


def test_pdf_time_cap_raises_instead_of_returning_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attachments, "MAX_SECONDS", -1.0)
    with pytest.raises(UnsafeAttachment, match="national_list.pdf: PDF took over"):
        _read("national_list.pdf")


# ---------------------------------------------------------------------- sniffing


@pytest.mark.parametrize("file, kind", [
    ("new_firms.xlsx", "xlsx"),
    ("xlsx_named_xls.xls", "xlsx"),  # an .xlsx under a .xls name
    ("html_table.xls", "html"),  # an HTML table under a .xls name
    ("review_passed.xls", "xls"),
    ("renamed.docx", "docx"),
    ("national_list.pdf", "pdf"),
    ("review_failed.doc", "doc"),
    ("ole_word.wps", "doc"),  # a .wps that is an OLE Word file
])
def test_sniff_reads_the_bytes_not_the_name(file: str, kind: str) -> None:
    assert sniff((CORPUS / file).read_bytes(), "whatever.bin") in (kind, "xls" if kind == "doc" else kind)
    assert sniff((CORPUS / file).read_bytes(), file) == kind


def test_html_xls_is_decoded_from_its_charset() -> None:
    (table,) = _read("html_table.xls")
    assert table[2] == ("1", "舟山市定海区金塘螺杆厂", "定海区")


def test_pdf_with_leading_junk_is_still_a_pdf() -> None:
    assert sniff(b"\r\n  junk\n" + (CORPUS / "national_list.pdf").read_bytes(), "a.pdf") == "pdf"


@pytest.mark.parametrize("data, name", [
    (b"", "empty.xlsx"),
    (b"Rar!\x1a\x07\x00", "list.rar"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "scan.pdf"),
    ("纯文本名单".encode(), "list.txt"),
])
def test_unknown_formats_are_unsupported_never_empty(data: bytes, name: str) -> None:
    with pytest.raises(UnsupportedFormat, match=name.replace(".", r"\.") + ": unsupported format"):
        read_tables(data, name)


def test_a_zip_that_is_not_office_is_unsupported() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("Doc_0/Page_0/Content.xml", "<Page/>")
    with pytest.raises(UnsupportedFormat, match="list.ofd: unsupported format"):
        read_tables(buf.getvalue(), "list.ofd")


# ---------------------------------------------------------------------- hostile files


@pytest.mark.parametrize("file, error, words", [
    ("bomb.xlsx", UnsafeAttachment, "zip"),
    ("billion_laughs.xlsx", UnsafeAttachment, "DTD"),
    ("xxe.docx", UnsafeAttachment, "DTD"),
    ("truncated.pdf", UnsafeAttachment, "truncated"),
    ("random.xls", UnsupportedFormat, "unsupported format"),
])
def test_hostile_attachments_are_refused(file: str, error: type, words: str) -> None:
    with pytest.raises(error) as info:
        read_tables((HOSTILE / file).read_bytes(), file)
    assert str(info.value).startswith(f"{file}: ") and words in str(info.value)


def test_zip_bomb_is_refused_before_inflating() -> None:
    data = (HOSTILE / "bomb.xlsx").read_bytes()
    tracemalloc.start()
    try:
        with pytest.raises(UnsafeAttachment):
            read_tables(data, "bomb.xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024


def test_xxe_sentinel_never_leaks() -> None:
    secret = "SENTINEL-" + os.urandom(8).hex()
    SENTINEL.write_text(secret, encoding="utf-8")
    try:
        with pytest.raises(AttachmentError) as info:
            read_tables((HOSTILE / "xxe.docx").read_bytes(), "xxe.docx")
        assert secret not in str(info.value)
    finally:
        SENTINEL.unlink(missing_ok=True)


def test_openpyxl_itself_refuses_entities_defusedxml_is_installed() -> None:
    import openpyxl
    from defusedxml import EntitiesForbidden

    with pytest.raises(Exception) as info:  # noqa: PT011 -- openpyxl wraps the cause in ValueError
        openpyxl.load_workbook(io.BytesIO((HOSTILE / "billion_laughs.xlsx").read_bytes()), read_only=True)
    assert isinstance(info.value.__cause__ or info.value.__context__, EntitiesForbidden)


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_zip_member_count_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attachments, "MAX_MEMBERS", 50)
    data = _zip_bytes({"xl/workbook.xml": b"<workbook/>", **{f"xl/m{i}.bin": b"" for i in range(60)}})
    with pytest.raises(UnsafeAttachment, match="61 members"):
        read_tables(data, "many.xlsx")


def test_zip_total_size_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attachments, "MAX_UNZIPPED", 1000)
    data = _zip_bytes({"xl/workbook.xml": b"<workbook/>", "xl/big.bin": os.urandom(2000)})
    with pytest.raises(UnsafeAttachment, match="unpacks to"):
        read_tables(data, "big.xlsx")


def test_zip_ratio_cap() -> None:
    data = _zip_bytes({"word/document.xml": b" " * (4 * 1024 * 1024)})
    with pytest.raises(UnsafeAttachment, match="compressed .*:1"):
        read_tables(data, "ratio.docx")


def test_a_dtd_split_across_read_chunks_is_seen() -> None:
    xml = b" " * (256 * 1024 - 4) + b"<!DOCTYPE x>"  # the marker straddles the first chunk boundary
    data = _zip_bytes({"word/document.xml": xml})
    with pytest.raises(UnsafeAttachment, match="DTD"):
        read_tables(data, "split.docx")


def test_a_broken_zip_is_refused() -> None:
    data = (CORPUS / "renamed.docx").read_bytes()
    with pytest.raises(AttachmentError, match="cut.docx"):
        read_tables(data[: len(data) // 2], "cut.docx")


@pytest.mark.parametrize("file", ["review_passed.xls", "renamed.docx", "new_firms.xlsx", "national_list.pdf"])
def test_corrupted_bodies_raise_typed_errors(file: str) -> None:
    data = bytearray((CORPUS / file).read_bytes())
    for i in range(600, len(data) - 2048, 97):  # keep the magic bytes and the PDF trailer
        data[i] ^= 0x5A
    try:
        found = read_tables(bytes(data), file)
    except AttachmentError as e:
        assert str(e).startswith(file)
    else:
        assert all(isinstance(c, str) for t in found for r in t for c in r)


# ---------------------------------------------------------------------- missing libraries and tools


@pytest.mark.parametrize("module, file", [("openpyxl", "new_firms.xlsx"), ("xlrd", "review_passed.xls"),
                                          ("docx", "renamed.docx"), ("pdfplumber", "national_list.pdf")])
def test_a_missing_library_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, module: str, file: str) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    with pytest.raises(UnsupportedFormat, match=r"install clusterwatch\[attachments\]"):
        _read(file)


def test_doc_without_antiword_or_catdoc_is_unsupported_not_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attachments.shutil, "which", lambda _name: None)
    with pytest.raises(UnsupportedFormat, match="review_failed.doc: .doc / .wps needs antiword or catdoc"):
        _read("review_failed.doc")


@NEEDS_DOC_TOOL
def test_doc_through_the_installed_converter() -> None:
    table, title = _read("review_failed.doc")
    assert table == (("序号", "企业名称", "所在地区"), ("1", "舟山普陀海洋渔具有限公司", "普陀区"),
                     ("2", "丽水市莲都区华星机械厂", "莲都区"))
    assert title == (("2022年度浙江省专精特新中小企业复核未通过名单",),)


def test_catdoc_route_splits_tab_separated_cells(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "catdoc"
    fake.write_text("#!/bin/sh\nprintf '名单\\n序号\\t企业名称\\n1\\t甲有限公司\\n'\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(attachments.shutil, "which", lambda name: str(fake) if name == "catdoc" else None)
    assert _read("review_failed.doc") == ((("序号", "企业名称"), ("1", "甲有限公司")), (("名单",),))


def test_a_failing_converter_is_an_attachment_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "antiword"
    fake.write_text("#!/bin/sh\necho 'not a Word document' >&2\nexit 1\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(attachments.shutil, "which", lambda name: str(fake) if name == "antiword" else None)
    with pytest.raises(AttachmentError, match="review_failed.doc: antiword failed .not a Word document"):
        _read("review_failed.doc")


def test_only_attachments_imports_the_attachment_libraries() -> None:
    libs = {"openpyxl", "xlrd", "docx", "pdfplumber", "pdfminer", "python_calamine", "olefile"}
    for pkg in ("config", "db", "notifier", "scraper"):
        for path in (ROOT / pkg).rglob("*.py"):
            if path == ROOT / "scraper" / "attachments.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                allowed = {"openpyxl"} if path == ROOT / "scraper" / "export.py" else set()  # writes xlsx exports
                assert not ({n.split(".")[0] for n in names} & libs) - allowed, path


def test_a_merged_range_to_row_65535_does_not_build_a_huge_grid(capsys: pytest.CaptureFixture[str]) -> None:
    """Found by fuzzing: 5.6 KB of .xls whose MERGEDCELLS ran to row 65535 and column 768 made xlrd pad
    every row (1.6 s, 570 MB) and the reader build a 65,536 x 200 grid (13 s, 670 MB in all)."""
    import tracemalloc

    data = (HOSTILE / "merged_cells_bomb.xls").read_bytes()
    tracemalloc.start()
    try:
        [table] = attachments.read_tables(data, "bomb.xls")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 60_000_000, peak
    rows = [list(r) for r in table]
    assert len(rows) == 6 and max(len(r) for r in rows) == 4
    assert [r[1] for r in rows[2:]] == ["绍兴柯桥汇丽印染有限公司", "诸暨市三鼎织造有限公司", "浙江新昌三雄轴承有限公司",
                                        "温州瓯海眼镜有限公司"]
    assert "WARNING" not in capsys.readouterr().out  # xlrd's warnings never reach stdout (extract --json)
