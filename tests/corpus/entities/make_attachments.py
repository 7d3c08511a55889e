"""Make the attachment fixtures of the entity corpus (run by hand; the outputs are committed).

    .venv/bin/python tests/corpus/entities/make_attachments.py

Needs openpyxl, python-docx (the ``attachments`` extra), reportlab (the PDF, drawn with
its built-in CID font STSong-Light, so no font file is needed) and, when available,
xlwt (the BIFF .xls; skipped with a note when missing) and LibreOffice's ``soffice``
(the Word 97 .doc and the OLE .wps, converted from a .docx; skipped when missing).
The hostile files are built here too. Every file is deterministic except the PDFs'
and the .doc's embedded timestamps. The expected entity lists beside them are written by
hand, never by running the extractor.
"""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOSTILE = HERE / "hostile"
SENTINEL = "/tmp/clusterwatch-xxe-sentinel.txt"  # tests write a secret here and check it never leaks


def new_firms_xlsx() -> None:
    """附件1 新认定企业名单: merged title row, header, a spacer row and a totals row."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "名单"
    ws.append(["2025年浙江省专精特新中小企业新认定名单"])
    ws.merge_cells("A1:D1")
    ws.append(["序号", "企业名称", "所在设区市", "所在县（市、区）"])
    rows = [
        (1, "嘉兴博创智能传感科技有限公司", "嘉兴市", "平湖市"),
        (2, "浙江天台祥和实业股份有限公司", "台州市", "天台县"),
        (3, "义乌华鼎锦纶股份有限公司", "金华市", "义乌市"),
        (None, None, None, None),
        (4, "衢州元立金属制品有限公司", "衢州市", "衢江区"),
        (5, "宁波舜宇红外技术有限公司", "宁波市", "余姚市"),
        (6, "缙云县比优特机械有限公司", "丽水市", "缙云县"),
    ]
    for row in rows:
        ws.append(list(row))
    ws.append(["合计", "6家", None, None])
    notes = wb.create_sheet("说明")
    notes.append(["本名单按申报顺序排列。"])
    wb.save(HERE / "new_firms.xlsx")


def xlsx_named_xls() -> None:
    """A real .xlsx saved under a .xls name (sites do this)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "企业名称", "地区"])
    ws.append([1, "湖州南浔双林电梯部件有限公司", "南浔区"])
    ws.append([2, "安吉县竹境家居用品有限公司", "安吉县"])
    wb.save(HERE / "xlsx_named_xls.xls")


def review_passed_xls() -> bool:
    """附件2 复核通过名单 as BIFF .xls, with a 设区市 cell merged down its rows."""
    try:
        import xlwt
    except ImportError:
        print("xlwt missing: review_passed.xls not made", file=sys.stderr)
        return False
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("复核通过")
    ws.write_merge(0, 0, 0, 3, "2022年度浙江省专精特新中小企业复核通过名单")
    for c, label in enumerate(["序号", "企业名称", "设区市", "县（市、区）"]):
        ws.write(1, c, label)
    data = [
        (1.0, "绍兴柯桥汇丽印染有限公司", "柯桥区"),
        (2.0, "诸暨市三鼎织造有限公司", "诸暨市"),
        (3.0, "浙江新昌三雄轴承有限公司", "新昌县"),
    ]
    ws.write_merge(2, 4, 2, 2, "绍兴市")
    for r, (n, name, county) in enumerate(data, 2):
        ws.write(r, 0, n)
        ws.write(r, 1, name)
        ws.write(r, 3, county)
    ws.write(5, 0, 4.0)
    ws.write(5, 1, "温州瓯海眼镜有限公司")
    ws.write(5, 2, "温州市")
    ws.write(5, 3, "瓯海区")
    wb.save(str(HERE / "review_passed.xls"))
    return True


def _docx_table(doc, header: list[str], rows: list[list[str]]):
    table = doc.add_table(rows=0, cols=len(header))
    table.style = "Table Grid"
    for values in [header, *rows]:
        cells = table.add_row().cells
        for cell, value in zip(cells, values):
            cell.text = value
    return table


def renamed_docx() -> None:
    """附件3 简单更名名单: 原企业名称 | 现企业名称."""
    from docx import Document

    doc = Document()
    doc.add_paragraph("2022年度浙江省专精特新中小企业简单更名名单")
    _docx_table(doc, ["序号", "原企业名称", "现企业名称", "所在地"], [
        ["1", "杭州金鱼电器集团有限公司", "杭州金鱼智能电器集团有限公司", "上城区"],
        ["2", "温州市瓯江阀门厂", "浙江瓯江阀门股份有限公司", "龙湾区"],
    ])
    doc.save(HERE / "renamed.docx")


def hangzhou_tables_docx() -> None:
    """Three tables, one per sub-category; the second carries district rows spanning the row."""
    from docx import Document

    doc = Document()
    doc.add_paragraph("一、数字经济类")
    _docx_table(doc, ["序号", "企业名称", "区、县（市）"], [
        ["1", "杭州云栖智算科技有限公司", "西湖区"],
        ["2", "杭州滨江光电技术有限公司", "滨江区"],
    ])
    doc.add_paragraph("二、高端装备类")
    t = _docx_table(doc, ["序号", "企业名称"], [])
    for label, firms in (("萧山区（2家）", [("1", "杭州前进齿轮箱集团股份有限公司"), ("2", "杭州萧山机械厂")]),
                         ("桐庐县（1家）", [("3", "桐庐富春制笔有限公司")])):
        cells = t.add_row().cells
        cells[0].merge(cells[1]).text = label
        for number, firm in firms:
            row = t.add_row().cells
            row[0].text, row[1].text = number, firm
    doc.add_paragraph("三、生命健康类")
    _docx_table(doc, ["序号", "企业名称", "区、县（市）"], [
        ["1", "杭州钱塘生物医药研究院", "钱塘区"],
    ])
    doc.save(HERE / "hangzhou_tables.docx")


def paragraphs_docx() -> None:
    """A review list written as numbered paragraphs, no table."""
    from docx import Document

    doc = Document()
    doc.add_paragraph("附件2")
    doc.add_paragraph("2021年度浙江省科技型中小企业复核通过名单")
    for line in ["1.金华市婺城区永盛五金厂", "2.浙江东阳横店影视道具有限公司", "3.永康市铭达工贸有限公司",
                 "4.兰溪市天工纺织研究所"]:
        doc.add_paragraph(line)
    doc.add_paragraph("（共4家）")
    doc.save(HERE / "paragraphs.docx")


def national_pdf() -> None:
    """Page 1: a ruled table. Page 2: number, name and place on separate lines."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas
    from reportlab.platypus import Table as RLTable, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(HERE / "national_list.pdf"), pagesize=A4, invariant=1)
    c.setFont("STSong-Light", 14)
    c.drawString(150, 800, "第六批专精特新“小巨人”企业名单")
    data = [["序号", "省（区、市）", "企业名称"],
            ["1", "浙江省", "杭州长川智能制造股份有限公司"],
            ["2", "江苏省", "苏州汇川联合动力系统有限公司"],
            ["3", "浙江省", "浙江德清莫干山生物科技有限公司"],
            ["4", "宁夏回族自治区", "宁夏共享机床辅机有限公司"]]
    t = RLTable(data, colWidths=[50, 110, 260])
    t.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "STSong-Light", 11),
                           ("GRID", (0, 0), (-1, -1), 0.8, colors.black)]))
    _, h = t.wrapOn(c, 420, 600)
    t.drawOn(c, 80, 760 - h)
    c.showPage()
    c.setFont("STSong-Light", 11)
    y = 790
    for number, name, place in (("118", "宁夏电力设计研究院", "银川市 金凤区"),
                                ("119", "平湖市华达机械厂", "嘉兴市 平湖市"),
                                ("120", "石嘴山市塑料厂", "石嘴山市 惠农区")):
        for text in (number, name, place):
            c.drawString(80, y, text)
            y -= 22
    c.showPage()
    c.save()


def continued_pdf() -> None:
    """One table over two pages: the header is on page 1 only."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas
    from reportlab.platypus import Table as RLTable, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(HERE / "continued_table.pdf"), pagesize=A4, invariant=1)
    pages = [[["序号", "企业名称", "所在地区"],
              ["1", "杭州欣禾电子有限公司", "杭州市拱墅区"],
              ["2", "宁波北仑港机配件厂", "宁波市北仑区"],
              ["3", "温州市鹿城区精工模具研究所", "温州市鹿城区"]],
             [["4", "湖州长兴新能源材料有限公司", "湖州市长兴县"],
              ["5", "台州路桥五金有限公司", "台州市路桥区"]]]
    for rows in pages:
        t = RLTable(rows, colWidths=[50, 250, 120])
        t.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "STSong-Light", 11),
                               ("GRID", (0, 0), (-1, -1), 0.8, colors.black)]))
        _, h = t.wrapOn(c, 420, 600)
        t.drawOn(c, 80, 780 - h)
        c.setFont("STSong-Light", 9)
        c.drawString(290, 40, f"- {pages.index(rows) + 1} -")
        c.showPage()
    c.save()


def grouped_paragraphs_docx() -> None:
    """Numbered paragraphs under city headings (一、杭州市（2家）), no table."""
    from docx import Document

    doc = Document()
    doc.add_paragraph("2024年度浙江省专精特新中小企业拟认定名单")
    for line in ["一、杭州市（2家）", "1.杭州科睿传感技术有限公司", "2.浙江正泰仪器仪表有限公司",
                 "二、宁波市（2家）", "3.浙江海天塑机股份有限公司", "4.余姚市精诚模具厂",
                 "三、衢州市（1家）", "5.浙江衢州巨化新材料研究院"]:
        doc.add_paragraph(line)
    doc.save(HERE / "grouped_paragraphs.docx")


def review_failed_doc() -> bool:
    """附件4 复核未通过名单 as Word 97 .doc (and the same bytes as an OLE .wps), via soffice."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        print("soffice missing: review_failed.doc not made", file=sys.stderr)
        return False
    from docx import Document

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "review_failed.docx"
        doc = Document()
        doc.add_paragraph("2022年度浙江省专精特新中小企业复核未通过名单")
        _docx_table(doc, ["序号", "企业名称", "所在地区"], [
            ["1", "舟山普陀海洋渔具有限公司", "普陀区"],
            ["2", "丽水市莲都区华星机械厂", "莲都区"],
        ])
        doc.save(src)
        subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp}/profile", "--convert-to",
                        "doc:MS Word 97", "--outdir", tmp, str(src)], check=True, capture_output=True, timeout=180)
        data = (Path(tmp) / "review_failed.doc").read_bytes()
    (HERE / "review_failed.doc").write_bytes(data)
    (HERE / "ole_word.wps").write_bytes(data)
    return True


def html_xls() -> None:
    """An "Excel" download that is an HTML table in GBK."""
    html = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>
<table border="1"><tr><td colspan="3">2024年度舟山市拟认定名单</td></tr>
<tr><td>序号</td><td>企业名称</td><td>所在地区</td></tr>
<tr><td>1</td><td>舟山市定海区金塘螺杆厂</td><td>定海区</td></tr>
<tr><td>2</td><td>浙江岱山海洋装备有限公司</td><td>岱山县</td></tr>
<tr><td>3</td><td>嵊泗县渔港船舶修造有限公司</td><td>嵊泗县</td></tr>
</table></body></html>"""
    (HERE / "html_table.xls").write_bytes(html.encode("gb18030"))


# ---------------------------------------------------------------------- hostile


def _zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(path, "w", compression) as z:
        for member, data in members.items():
            z.writestr(member, data)


_CT = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
       b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       b'<Default Extension="xml" ContentType="application/xml"/></Types>')


def zip_bomb_xlsx() -> None:
    """An .xlsx whose one sheet inflates from ~200 KB to 200 MB of zeros."""
    with zipfile.ZipFile(HOSTILE / "bomb.xlsx", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("xl/workbook.xml", b"<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            block = b"\0" * (1024 * 1024)
            for _ in range(200):
                f.write(block)


def billion_laughs_xlsx() -> None:
    """A valid workbook whose shared strings declare nested entities."""
    from openpyxl import Workbook

    buf = io.BytesIO()
    wb = Workbook()
    wb.active.append(["序号", "企业名称"])
    wb.active.append([1, "placeholder"])
    wb.save(buf)
    lol = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)]
    evil = ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE worksheet [' + "".join(lol) + ']>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            '<row r="1"><c r="A1" t="inlineStr"><is><t>序号</t></is></c>'
            '<c r="B1" t="inlineStr"><is><t>企业名称</t></is></c></row>'
            '<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
            '</sheetData></worksheet>').encode()
    _rewrite(buf.getvalue(), HOSTILE / "billion_laughs.xlsx", {"xl/worksheets/sheet1.xml": evil})


def xxe_docx() -> None:
    """A .docx whose document.xml pulls a local file in through an external entity."""
    from docx import Document

    buf = io.BytesIO()
    doc = Document()
    doc.add_paragraph("XXEMARK")
    doc.save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as z:
        xml = z.read("word/document.xml").decode()
    head, body = xml.split("?>", 1)
    xml = head + f'?>\n<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://{SENTINEL}">]>' + body
    xml = xml.replace("XXEMARK", "1.&xxe;有限公司")
    _rewrite(buf.getvalue(), HOSTILE / "xxe.docx", {"word/document.xml": xml.encode()})


def _rewrite(original: bytes, path: Path, replace: dict[str, bytes]) -> None:
    with zipfile.ZipFile(io.BytesIO(original)) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))


def broken_files() -> None:
    data = (HERE / "national_list.pdf").read_bytes()
    (HOSTILE / "truncated.pdf").write_bytes(data[: len(data) // 2])
    (HOSTILE / "random.xls").write_bytes(random.Random(4).randbytes(4096))


def main() -> None:
    HOSTILE.mkdir(exist_ok=True)
    new_firms_xlsx()
    xlsx_named_xls()
    review_passed_xls()
    renamed_docx()
    hangzhou_tables_docx()
    paragraphs_docx()
    national_pdf()
    continued_pdf()
    grouped_paragraphs_docx()
    review_failed_doc()
    html_xls()
    zip_bomb_xlsx()
    billion_laughs_xlsx()
    xxe_docx()
    broken_files()


if __name__ == "__main__":
    main()
