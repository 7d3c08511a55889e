"""Selected entities from tables and body text (gov-sites.md section 6). Pure.

* :func:`from_tables`: each table's header row (序号, 企业名称, 集群名称, 所在地, 县（市、区）,
  省（区、市）…; a two-row merged header is combined) gives the name, place and category
  columns. A row with one distinct value is a group heading: a place (``嘉兴市（6家）``) sets
  the region of the rows below, a tier (核心区, 协同区, “新星”产业群) their category. Totals and
  notes rows are skipped. A headerless table as wide as the last header continues it (a PDF
  page break); a one-column table without a header (text lines) is read by :func:`from_lines`.
* :func:`from_lines`: numbered lines (``1.``, ``1、``, ``（1）``), bare lines under a tier heading
  that start with a place, and number / name / place on separate lines (PDF text).
* Region: the place column, else the group heading, else the name's prefix; a name prefix
  inside that place is more specific (浙江省 + 杭州XX公司 -> 杭州市). An unknown place is kept as
  written without spaces (石嘴山市惠农区), city None.
* Role: the caller's (from the attachment title) unless a table's own title row names one
  (…复核通过企业名单). A 集群名称 cell without a place gets the place column in front.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

from config.regions import Regions
from scraper.models import Entity, Table

_WS = re.compile(r"\s+")
_BRACKETS = str.maketrans("〔〕【】[]", "()()()")
_FOOTNOTES = frozenset("*＊※△▲☆★#＃\u00b9\u00b2\u00b3"
                       + "".join(map(chr, [*range(0x2070, 0x207A), *range(0x2460, 0x2474)])))
_EDGE = " ;；,，。:："  # punctuation stripped from both ends of a name
_NOTE = re.compile(r"\((?:原名|原企业名称|原名称|曾用名|已更名|更名为|更名|现名|注|备注|已注销|已迁出|已撤销)[^()]*\)")
_COUNT = re.compile(r"[(（]\s*(?:共|合计)?\s*\d+\s*(?:个|家|项|户|名)\s*[)）]\s*[:：]?$")
_ORDINAL = re.compile(r"^(?:[一二三四五六七八九十]+[、.．]|[(（][一二三四五六七八九十]+[)）])\s*")
_TIER = re.compile(r"核心区|协同区|产业群|新星|^[国省市县]级|星级|梯队|[类组档层]$")
_TITLEISH = re.compile(r"(名单|公示|通知|公告|附件|关于|说明|[0-9]{4}年)")
_SKIP_ROW = re.compile(r"^(?:合计|总计|小计|共计|总数|注\s*[:：\d]|注$|备注|说明|数据来源|填报说明)")
_ENTITY_END = re.compile(
    r"(公司|厂|研究院|研究所|设计院|院|集群|产业群|园区|园|区|中心|基地|集团|合作社|小镇|大学|学院|工作室|站|所|店|场)$")
_ISSUER_END = re.compile(r"(局|厅|委员会|委|办公室|政府|部|处|科)$")
_NUMBERED = re.compile(r"^(?:(\d{1,5})\s*[.、．]\s*|(\d{1,5})\s+|[(（]\s*(\d{1,4})\s*[)）]\s*)(\S.*)$")
_BARE_NUMBER = re.compile(r"^\d{1,5}$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
# each later part is the shortest run ending in a suffix, taken atomically: 市 is both a suffix and a CJK
# character, so a free choice made "嘉兴市市市…x" backtrack exponentially
_PLACE_LINE = re.compile(r"^[\u4e00-\u9fff]{2,10}(?:省|市|区|县|州|盟|旗)(?>\s*[\u4e00-\u9fff]{1,10}?(?:市|区|县|旗|镇))*$")

_SEQ = {"序号", "编号", "序", "排序", "No", "NO", "no"}
_NAME_STRONG = ("企业名称", "集群名称", "园区名称", "单位名称", "公司名称", "企业全称", "产业集群名称", "申报单位",
                "企业", "单位", "集群", "园区", "申报主体", "名称")
_CLUSTER_NAME = ("集群名称", "产业集群名称", "集群")
_NAME_NEW = re.compile(r"^(?:现|新|变更后|更名后)(?:企业|单位)?名称$")
_NAME_OLD = re.compile(r"^(?:原|变更前|更名前)(?:企业|单位)?名称$")
_PLACE = {"所在地", "所在地区", "地区", "所属地区", "所属地", "属地", "区域", "所在区域", "县", "县市区", "县区", "区县",
          "所在县", "所在县市区", "省", "省份", "市", "设区市", "所在市", "地市", "城市", "所在设区市", "行政区域", "市县",
          "所属市", "所属县"}
_CATEGORY = {"拟评定结果", "评定结果", "星级", "等级", "类别", "层级", "梯队", "类型", "所属梯队", "评价结果", "拟认定类型"}


# ---------------------------------------------------------------------- names


def normalise_name(raw: str) -> str:
    """NFKC, no spaces or footnote marks, unified brackets and quotes, no trailing （已更名…） note.

    Idempotent, and linear in the length: the end is stripped in one backward walk that takes
    footnote marks, punctuation and notes in any order (企业*；（原名X）※ -> 企业).
    """
    text = _strip_end(_WS.sub("", raw or ""), _FOOTNOTES)  # before NFKC, which turns ¹ and ① into digits
    # NFKC makes spaces of ¸ and ¨; once they are gone, what they stood between may compose (K¸ -> Ķ)
    text = unicodedata.normalize("NFKC", _WS.sub("", unicodedata.normalize("NFKC", text))).translate(_BRACKETS)
    return _quotes(_strip_end(text, _FOOTNOTES | frozenset(_EDGE), notes=True).lstrip(_EDGE))


def _strip_end(text: str, marks: frozenset[str], *, notes: bool = False) -> str:
    """``text`` without the marks (and, with ``notes``, the notes) at its end; a name that is all note stays."""
    end = len(text)
    while True:
        e = end
        while e and text[e - 1] in marks:
            e -= 1
        if notes and e and text[e - 1] == ")":
            i = text.rfind("(", 0, e)
            if i > 0 and _NOTE.fullmatch(text, i, e):
                e = i
        if e == end:
            return text[:end]
        end = e


def _quotes(text: str) -> str:
    """Corner and straight quotes become “…” (a straight quote opens, the next one closes)."""
    out, opened = [], False
    for ch in text:
        if ch in "\"“「『":
            opened = ch != "\"" or not opened
            ch = "“" if opened else "”"
        elif ch in "”」』":
            opened, ch = False, "”"
        out.append(ch)
    return "".join(out)


def _label(cell: str) -> str:
    """A header cell as a key: no spaces, no bracketed part, no 、 (县（市、区） -> 县, 区、县（市） -> 区县)."""
    t = unicodedata.normalize("NFKC", _WS.sub("", cell)).strip("*")
    return (re.sub(r"\([^)]*\)?$", "", t) or t).replace("、", "")


# ---------------------------------------------------------------------- roles and counts

_ROLES = (
    ("review_failed", re.compile(r"复核\s*(?:未|不)(?:予)?通过|未通过复核|复核不合格")),
    ("removed", re.compile(r"撤销|取消|退出|注销|移出|不再保留")),
    ("renamed", re.compile(r"更名")),
    ("review_passed", re.compile(r"复核")),
)


def _explicit_role(title: str) -> str | None:
    """A title's role when it says one (复核通过, 更名, …, or 新认定 / 第七批 for new), else None."""
    role = role_of(title)
    if role != "new":
        return role
    return "new" if re.search(r"新认定|新增|拟认定|第[一二三四五六七八九十\d]+批", title) else None


def role_of(attachment_text: str | None) -> str:
    """new / review_passed / renamed / review_failed / removed, from an attachment's (or page's) title."""
    text = _WS.sub("", unicodedata.normalize("NFKC", attachment_text or ""))
    for role, pattern in _ROLES:
        if pattern.search(text):
            return role
    return "new"


_CN = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = r"(\d+|[〇零一二三四五六七八九两十百千]+)"
_STATED = (
    re.compile(rf"等\s*{_NUM}\s*(?:个|家|项|户|名)(?!工作日|日|天|月|年|批|小时)"),
    re.compile(rf"(?:共计|共有|合计|总计|共)\s*{_NUM}\s*(?:个|家|项|户|名)(?!工作日|日|天|月|年|批|小时)"),
    re.compile(rf"(?:拟认定|拟推荐|拟入选|拟评定|认定|入选|确定|公布)\s*{_NUM}\s*(?:个|家|项|户|名)(?!工作日|日|天|月|年|批|小时)"),
)


def _cn_int(s: str) -> int:
    """Digits or a Chinese number; 0 for a run of digits int() refuses or no list could have."""
    if s.isdigit():
        return int(s) if s.isdecimal() and len(s) <= 9 else 0
    total = num = 0
    for ch in s:
        if ch in _CN:
            num = _CN[ch]
        else:
            total, num = total + (num or 1) * {"十": 10, "百": 100, "千": 1000}[ch], 0
    return total + num


def stated_count(body: str | None) -> int | None:
    """The number of entities the body says the list has (等17个, 共75家, 拟认定97家), or None."""
    text = unicodedata.normalize("NFKC", body or "")
    for pattern in _STATED:
        m = pattern.search(text)
        if m:
            return _cn_int(m.group(1)) or None
    return None


def check_count(stated: int | None, found: int) -> str | None:
    """A message when the stated count and the entities found disagree, else None."""
    if stated is None or stated == found:
        return None
    diff = stated - found
    return f"the body states {stated} entities, {found} were found ({abs(diff)} {'missing' if diff > 0 else 'extra'})"


# ---------------------------------------------------------------------- places


def _place(regions: Regions, place: str | None, heading: tuple[str | None, str | None],
           name: str) -> tuple[str | None, str | None]:
    """Region and city: the place column, else the group heading, else the name; refined by the name."""
    base = heading
    if place:
        base = regions.locate(place)
        if base == (None, None):
            return (_WS.sub("", unicodedata.normalize("NFKC", place)), None)
    region, city = base
    n_region, n_city = regions.locate(name)
    if n_region is None:
        return base
    if region is None:
        return (n_region, n_city)
    if city is None and region == regions.province and n_city in regions.home:
        return (n_region, n_city)
    if region == city and n_city == city:
        return (n_region, n_city)
    return base


def _heading(regions: Regions, text: str) -> tuple[str, object] | None:
    """("place", (region, city)) or ("tier", category) for a group heading; None otherwise."""
    norm = unicodedata.normalize("NFKC", _WS.sub("", text))
    counted = bool(_COUNT.search(norm))
    t = _COUNT.sub("", _ORDINAL.sub("", norm)).rstrip(":：")
    if not t or len(t) > 20 or _SKIP_ROW.match(t) or _TITLEISH.search(t):
        return None
    region, city = regions.locate(t)
    if region is not None:
        return ("place", (region, city)) if _whole_place(t, region, city, regions) else None
    if counted or _TIER.search(t):
        return ("tier", normalise_name(t))
    return None


def _whole_place(t: str, region: str, city: str | None, regions: Regions) -> bool:
    """``t`` names the place and nothing more (嘉兴市, 嘉兴, 嘉兴市平湖市, 浙江省)."""
    t = _WS.sub("", t)
    whole = {region, city or "", (city or "") + region, regions.province + region,
             regions.province + (city or "") + (region if region != city else "")}
    return t in whole or (len(t) >= 2 and (region.startswith(t) or bool(city and city.startswith(t))))


def _entity_like(name: str, regions: Regions) -> bool:
    n = normalise_name(name)
    if len(n) < 3 or len(n) > 80 or "。" in n or "的" in n or _ISSUER_END.search(n) or _COUNT.search(n):
        return False
    return bool(_ENTITY_END.search(n)) or (n.endswith(")") and regions.locate(n)[0] is not None)


# ---------------------------------------------------------------------- tables


@dataclass(frozen=True)
class _Header:
    width: int
    labels: tuple[str, ...]
    name: int
    seq: int | None
    places: tuple[int, ...]
    category: int | None


def _header(row: Sequence[str], below: Sequence[str] | None) -> _Header | None:
    labels = [_label(c) for c in row]
    if below is not None and below and not below[0].strip().isdigit() and any(_known(x) for x in labels):
        lower = [_label(c) for c in below]
        if any(x != y and _known(y) for x, y in zip(labels, lower)):
            labels = [y if _known(y) else x for x, y in zip(labels, lower)]
    ranked = [(r, i) for i, x in enumerate(labels) if (r := _name_rank(x)) is not None]
    name = min(ranked)[1] if ranked else None
    if name is None:
        return None
    seq = next((i for i, x in enumerate(labels) if x in _SEQ), None)
    places = tuple(i for i, x in enumerate(labels) if x in _PLACE)
    category = next((i for i, x in enumerate(labels) if x in _CATEGORY), None)
    if seq is None and not places and category is None and labels[name] in ("名称", "企业", "单位", "集群", "园区"):
        return None
    return _Header(len(row), tuple(labels), name, seq, places, category)


def _known(label: str) -> bool:
    return label in _SEQ or label in _PLACE or label in _CATEGORY or _name_rank(label) is not None


def _name_rank(label: str) -> int | None:
    if _NAME_NEW.match(label):
        return -1
    if _NAME_OLD.match(label):
        return None
    if label in _NAME_STRONG:
        return _NAME_STRONG.index(label)
    if label.endswith("名称") and not label.startswith(("产品", "项目", "推荐", "主管")):
        return len(_NAME_STRONG)
    return None


@dataclass
class _State:
    header: _Header | None = None
    heading: tuple[str | None, str | None] = (None, None)
    tier: str | None = None
    position: int = 0
    role: str | None = None  # from a title row above the header (…复核通过名单)
    mode: str | None = None  # lines: "numbered" or "bare" once a tier's first entry is seen


def from_tables(tables: Iterable[Table], *, regions: Regions, role: str = "new",
                provenance: str = "page") -> list[Entity]:
    """Entities in the tables' rows (see the module docstring)."""
    out: list[Entity] = []
    st = _State()
    for table in tables:
        if not table:
            continue
        start = _find_header(table, st, regions)
        if start is None:
            if len(table[0]) == 1:
                out += from_lines("\n".join(r[0] for r in table), regions=regions, role=role, provenance=provenance)
            continue
        for row in table[start:]:
            e = _row(row, st, regions, role, provenance)
            if e is not None:
                out.append(e)
    return out


def _find_header(table: Table, st: _State, regions: Regions) -> int | None:
    """Index of the first data row; resets the state for a new header, keeps it for a continuation.
    Headings above the header (a .docx table's caption 一、数字经济类) apply to the rows below."""
    for i, row in enumerate(table[:12]):
        lower = table[i + 1] if i + 1 < len(table) else None
        h = _header(row, lower)
        if h is None:
            continue
        if st.header is None or h.labels != st.header.labels or i > 0:  # a bare repeated header continues
            st.header, st.heading, st.tier, st.position, st.role = h, (None, None), None, 0, None
        for above in table[:i]:
            _apply_heading(above, st, regions)
            title = {c.strip() for c in above if c.strip()}
            if len(title) == 1 and "名单" in (t := title.pop()):  # the table's own title names its role
                st.role = _explicit_role(t) or st.role
        merged = lower is not None and _header(lower, None) is not None and not lower[0].strip().isdigit()
        return i + 2 if merged else i + 1
    if st.header is not None and len(table[0]) == st.header.width:
        return 0
    return None


def _apply_heading(row: Sequence[str], st: _State, regions: Regions) -> None:
    """A row with one distinct value that is a place or a tier heading updates the state."""
    values = {c.strip() for c in row if c.strip()}
    kind = _heading(regions, values.pop()) if len(values) == 1 else None
    if kind is not None and kind[0] == "place":
        st.heading = kind[1]  # type: ignore[assignment]
    elif kind is not None:
        st.tier = str(kind[1])


def _row(row: Sequence[str], st: _State, regions: Regions, role: str, provenance: str) -> Entity | None:
    h = st.header
    assert h is not None
    values = {c.strip() for c in row if c.strip()}
    first = next((c.strip() for c in row if c.strip()), "")
    if not values or _SKIP_ROW.match(first) or tuple(_label(c) for c in row) == h.labels:
        return None
    only_name = len(row) > h.name and row[h.name].strip() == first and row.count(first) == 1 and h.width > 1
    if len(values) == 1 and not (only_name and _entity_like(first, regions)):
        _apply_heading(row, st, regions)
        return None
    raw = row[h.name].strip() if h.name < len(row) else ""
    name = normalise_name(raw)
    if not name or name.isdigit() or _label(raw) in h.labels:
        return None
    st.position += 1
    seq = row[h.seq].strip() if h.seq is not None else ""
    place = "".join(dict.fromkeys(row[i].strip() for i in h.places if i < len(row)))  # merged cells repeat
    if place and h.labels[h.name] in _CLUSTER_NAME and regions.locate(name)[0] is None:
        name = normalise_name(place + raw)  # 杭州市萧山区 | 汽车零部件（智能底盘）: a cluster is named with its place
    region, city = _place(regions, place or None, st.heading, name)
    category = row[h.category].strip() if h.category is not None and row[h.category].strip() else st.tier
    return Entity(name=name, raw_name=raw, region=region, city=city, category=category, role=st.role or role,
                  row=int(seq) if seq.isdecimal() and len(seq) <= 9 else st.position, provenance=provenance)


# ---------------------------------------------------------------------- lines


def from_lines(text: str, *, regions: Regions, role: str = "new", provenance: str = "page") -> list[Entity]:
    """Entities in numbered lines and tier blocks of body text (see the module docstring)."""
    lines = [_WS.sub(" ", unicodedata.normalize("NFKC", x)).strip() for x in (text or "").splitlines()]
    lines = [x for x in lines if x and " | " not in x]
    st, out, i = _State(), [], 0
    while i < len(lines):
        e, used = _line(lines, i, st, regions)
        if e is not None:
            name, raw, place, row = e
            region, city = _place(regions, place, st.heading, name)
            out.append(Entity(name=name, raw_name=raw, region=region, city=city, category=st.tier, role=role,
                              row=row, provenance=provenance))
        i += used
    return out


def _line(lines: Sequence[str], i: int, st: _State,
          regions: Regions) -> tuple[tuple[str, str, str | None, int] | None, int]:
    """One entry starting at line i (name, raw, place, row) and how many lines it used."""
    line = lines[i]
    if _BARE_NUMBER.match(line) and i + 1 < len(lines) and _entity_like(lines[i + 1], regions):
        nxt = lines[i + 2] if i + 2 < len(lines) else ""
        place = nxt if _PLACE_LINE.match(nxt) and not _BARE_NUMBER.match(nxt) else None
        return (normalise_name(lines[i + 1]), lines[i + 1], place, int(line)), 3 if place else 2
    m = _NUMBERED.match(line)
    if m:
        number = int(m.group(1) or m.group(2) or m.group(3))
        name, place = _split_place(m.group(4), regions)
        if (st.tier is not None and st.mode != "bare" and _plausible(name)) or _entity_like(name, regions):
            st.mode = "numbered"
            return (normalise_name(name), name, place, number), 1
    kind = _heading(regions, line)
    if kind is not None:
        if kind[0] == "tier":
            st.tier, st.mode, st.position = str(kind[1]), None, 0
        else:
            st.heading = kind[1]  # type: ignore[assignment]
        return None, 1
    if st.tier is not None and st.mode != "numbered" and _plausible(line) and regions.locate(line)[0] is not None:
        st.mode, st.position = "bare", st.position + 1
        return (normalise_name(line), line, None, st.position), 1
    if st.tier is not None:
        st.tier, st.mode = None, None
    return None, 1


def _plausible(name: str) -> bool:
    n = normalise_name(name)
    return (3 <= len(n) <= 60 and not re.search(r"[。:：]|[，,]$|\d+年\d*月?|\d+月\d+日", n)
            and len(_CJK.findall(n)) >= 2 and not _ISSUER_END.search(n))


_PLACE_PARTS = 4


def _split_place(rest: str, regions: Regions) -> tuple[str, str | None]:
    """``石嘴山市塑料厂 石嘴山市 惠农区`` -> (name, place) when a name is followed by a place."""
    parts = rest.split(" ")
    for k in range(max(1, len(parts) - _PLACE_PARTS), len(parts)):  # a place is a few parts, not a whole line
        head, tail = " ".join(parts[:k]), " ".join(parts[k:])
        if _PLACE_LINE.match(tail) and _entity_like(head, regions):
            return head, tail
    return rest, None


__all__ = ["check_count", "from_lines", "from_tables", "normalise_name", "role_of", "stated_count"]


def unique(found: Iterable[Entity]) -> list[Entity]:
    """One entity per (name, role), the first wins: a list both in a table and in the text (or the page
    and an attachment) counts once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for e in found:
        if (e.name, e.role) not in seen:
            seen.add((e.name, e.role))
            out.append(e)
    return out
