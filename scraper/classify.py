"""What a title (and body) announces: program, level, stage, review, batch/year cohorts and region.

Pure functions, no I/O. The rules are the reference's §5.2 (gov-sites.md):

* normalise first (``scraper.titles``); the program is the first registry program with an alias in the
  title, and ``program_name`` is its longest alias match as written;
* stage markers rank revocation > evaluation > notice > call (strong) > final (strong) > call > final (weak).
  The title wins over the body: the body is read only when the title has no marker, so a final list whose
  body mentions the earlier 公示 stays final. Words inside 《》 name a document and are not markers;
* every year or batch starts a cohort (a year and a batch next to each other are one cohort); each cohort
  takes the markers of its own stretch of the title plus the title's frame (关于公布… / …名单的通知);
* level: explicit 国家级/省级/市级/县级, else a name that keeps its level (小巨人 is national), else the place
  nearest before the program, else the body's signature, else the program's default.

    >>> classify("工业和信息化部关于2024年度中小企业特色产业集群名单的通告").as_dict()["stage"]
    'final'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from config.programs import Program, Registry, default_registry
from scraper.cnnum import EN_ORDINAL, cn_year, en_ordinal, to_int
from scraper.models import Classification, Cohort
from scraper.titles import Place, normalise, normalise_title, places, signature_place

# Stage markers, strongest first.
_ZH_MARKERS = (
    ("revocation", r"撤销|取消|退出(?!机制)|复核未通过|未通过复核|摘牌|移出|除名"),
    # 科技型/创新型中小企业评价 is those programmes' recognition: its 评价结果 is a list, not an evaluation
    ("evaluation", r"绩效评价|绩效考核|继续支持|综合评价|(?<!中小企业)评价结果|考核结果|评估结果"),
    ("notice", r"公示|(?<!模)拟"),
    ("call", r"组织推荐|组织开展|组织申报|申报指南|申报的?通知|申报的?公告|征集|报送|"
             r"(?:开展[^,，]{0,25}?|做好[^,，]{0,25}?|申报|认定|复核|培育|推荐|遴选)工作(?!要点|方案|计划|总结|情况|成效|报告|经验)"),
    ("final", r"公布|名单的?通[知告]|通告|批复|的公告|名单公告|结果的?通[知告]|结果的?公告"),
    ("call", r"申报|推荐|遴选"),
    ("final", r"认定|同意|复核通过|通过复核|备案|入库|确定|命名|授予|入选|入围|新增"),
)
_EN_MARKERS = (
    ("revocation", r"\brevo(?:ke|cation)|\bcancel|\bremoved from\b|\bwithdraw"),
    ("evaluation", r"performance evaluation|evaluation results?|continued support|comprehensive evaluation"),
    ("notice", r"\bpublicity\b|\bpublic notice\b|\bproposed\b|\bto be (?:recognized|selected|identified|named)\b|shortlist"),
    ("call", r"\bcall for\b|\bapplications? for\b|\bdeclaration\b|\brecommendation\b|\bapply\b"),
    ("final", r"\bannounc|\bpublish|\breleas"),
    ("final", r"\bselected\b|\brecogni[sz]ed\b|\bapproved\b|\bnamed\b|\bchosen\b"),
)
_BODY_MARKERS = (
    ("final", r"予以?公布|公布如下|予以?通告|(?<!拟)认定为|(?<!拟)备案为|(?<!拟)确定为|hereby announced"),
    ("notice", r"予以?公示|公示时间|公示期|进行公示|publicity period"),
    ("call", r"请于.{0,20}前.{0,10}申报|申报截止"),
    ("revocation", r"撤销|取消.{0,10}(?:称号|资格)"),
    ("evaluation", r"绩效评价结果|继续支持"),
)
_ZH_RULES = tuple((s, re.compile(p)) for s, p in _ZH_MARKERS)
_EN_RULES = tuple((s, re.compile(p, re.I)) for s, p in _EN_MARKERS)
_BODY_RULES = tuple((s, re.compile(p, re.I)) for s, p in _BODY_MARKERS)
_REVIEW = re.compile(r"复核|\breview|\bre-?examin|\bre-?evaluat", re.I)
_FRAME_END = re.compile(r"(?:名单|结果)?的?(?:公示|通知|通告|公告|批复)$")
_DOC_NAME = re.compile(r"《[^》]*》")
_SEPARATOR = re.compile(r"[和、及与,，;；]|以及|暨|同时|\band the\b|\bas well as\b", re.I)
_LATIN = re.compile(r"^[^\u3400-\u9fff]*$")

# Batch and year tokens.
_CN_NUM = "一二三四五六七八九十百零〇两"
_YEAR_MASK = re.compile(r"\d{4}\s*[-—–~至到]\s*\d{4}\s*年度?|\d{4}年\d{1,2}月\d{1,2}日")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年(度)?|([〇零○一二三四五六七八九]{4})年(度)?")
_EN_YEAR = re.compile(r"(?<![\d.])((?:19|20)\d{2})(?![\d.])")
_BATCH = re.compile(rf"第([{_CN_NUM}\d]+)批(?:次)?(?:第([{_CN_NUM}\d]+)年)?|首批(?!次)")
_EN_BATCH = re.compile(rf"\b({EN_ORDINAL})[\s-]+batch\b|\bbatch\s+(?:no\.?\s*)?(\d{{1,9}})\b", re.I)
_REVIEW_OF = re.compile(r"^(?:开展|组织)?的?复核$")

# Level qualifiers written in the title.
_QUALIFIER = re.compile(r"国家级|省级|市级|县级|区级|国家(?=先进制造业|专精特新|中小企业特色|制造业单项)"
                        r"|\bnational(?:-level)?\b|\bprovincial\b|\bmunicipal\b|\bcity-level\b|\bcounty-level\b", re.I)
_QUALIFIER_LEVEL = {"国": "national", "省": "provincial", "市": "municipal", "县": "county", "区": "county",
                    "national": "national", "provincial": "provincial", "municipal": "municipal", "city": "municipal",
                    "county": "county"}

_CJK_GAP = r"(?:(?!名单|的|入选|关于).){0,16}?"
_LATIN_GAP = r".{0,80}?"


@dataclass(frozen=True)
class Token:
    kind: str  # "year" or "batch"
    value: int
    start: int
    end: int
    support_year: int | None = None


@dataclass(frozen=True)
class _Group:
    start: int
    end: int
    batch: int | None = None
    year: int | None = None
    support_year: int | None = None


@dataclass(frozen=True)
class ProgramMatch:
    program: Program
    start: int
    end: int
    text: str


def classify(title: str, body: str | None = None, registry: Registry | None = None) -> Classification:
    """Classify one title, with its body when there is one (see the module docstring for the rules)."""
    text = normalise_title(title)
    match = find_program(text, registry or default_registry())
    cohorts = _cohorts(text, _body_stage(body))
    program = match.program if match else None
    return Classification(
        program=program.key if program else None, program_name=match.text if match else None,
        level=_level(text, match, body), stage=cohorts[0].stage, review=any(c.review for c in cohorts),
        batch=cohorts[0].batch, year=cohorts[0].year, cohorts=cohorts, region=_region(text, body),
    )


# ---- program ----

def find_program(text: str, registry: Registry) -> ProgramMatch | None:
    """The first program (registry order) with an alias in ``text``; its longest match, earliest on ties."""
    for program, patterns in _patterns(registry):
        spans = [(m.start(), m.end()) for p in patterns for m in p.finditer(text)]
        if spans:
            start, end = min(spans, key=lambda s: (s[0] - s[1], s[0]))
            return ProgramMatch(program, *_balance_quotes(text, start, end))
    return None


@lru_cache(maxsize=8)
def _patterns(registry: Registry) -> tuple[tuple[Program, tuple[re.Pattern[str], ...]], ...]:
    return tuple((p, tuple(_alias_pattern(a) for a in p.aliases)) for p in registry)


def _alias_pattern(alias: str) -> re.Pattern[str]:
    parts = [part for part in re.split(r"\s*\.\.\.\s*", normalise(alias).replace('"', "")) if part]
    if _LATIN.match(alias):
        words = [[w for w in re.split(r"[\s-]+", part) if w] for part in parts]
        body = _LATIN_GAP.join(r"[\s-]+".join(f'"?{re.escape(w)}"?' for w in ws) for ws in words)
        return re.compile(rf"(?<![A-Za-z]){body}[a-z]*(?![A-Za-z])\"?", re.I)
    chars = ['"?' + '"?'.join(map(re.escape, part)) + '"?' for part in parts]
    return re.compile(_CJK_GAP.join(chars))


def _balance_quotes(text: str, start: int, end: int) -> tuple[int, int, str]:
    span = text[start:end]
    if span.count('"') % 2:
        if span.endswith('"'):
            end -= 1
        elif span.startswith('"'):
            start += 1
    return start, end, text[start:end]


# ---- stage ----

def _stages(text: str) -> list[str]:
    """Every stage marker in ``text`` (document names masked), strongest first."""
    text = _DOC_NAME.sub("《》", text)
    rules = _EN_RULES if _LATIN.match(text) else _ZH_RULES
    return [stage for stage, rx in rules if rx.search(text)]


def _body_stage(body: str | None) -> str | None:
    if not body:
        return None
    text = normalise(body)
    return next((stage for stage, rx in _BODY_RULES if rx.search(text)), None)


# ---- batches, years and cohorts ----

def tokens(text: str) -> list[Token]:
    """Years and batches in a normalised title, in order ("2025年复核2022年" keeps only 2022)."""
    masked = _YEAR_MASK.sub(lambda m: "#" * len(m.group()), text)
    raw = [_year_token(m) for m in _YEAR.finditer(masked)] + [_batch_token(m) for m in _BATCH.finditer(text)]
    if _LATIN.match(text):
        raw += [Token("year", int(m.group(1)), m.start(), m.end()) for m in _EN_YEAR.finditer(text)]
        raw += [_en_batch_token(m) for m in _EN_BATCH.finditer(text)]
    found = sorted((t for t in raw if t is not None), key=lambda t: t.start)
    return [t for i, t in enumerate(found) if not _reviewer_year(text, found, i)]


def _year_token(m: re.Match[str]) -> Token | None:
    value = int(m.group(1)) if m.group(1) else cn_year(m.group(3))
    return Token("year", value, m.start(), m.end()) if 1900 <= value <= 2099 else None  # 〇〇〇〇年 is no year


def _batch_token(m: re.Match[str]) -> Token | None:
    if m.group(0).startswith("首"):
        return Token("batch", 1, m.start(), m.end())
    try:  # 第一二批 is no number, 第〇批 no batch
        support = to_int(m.group(2)) if m.group(2) else None
        batch = to_int(m.group(1))
    except ValueError:
        return None
    return Token("batch", batch, m.start(), m.end(), support or None) if batch >= 1 else None


def _en_batch_token(m: re.Match[str]) -> Token | None:
    value = en_ordinal(m.group(1)) if m.group(1) else int(m.group(2))
    return Token("batch", value, m.start(), m.end()) if value else None


def _reviewer_year(text: str, found: list[Token], i: int) -> bool:
    """The 2025 in "2025年复核2022年度名单": the year of the review, not of the cohort."""
    nxt = found[i + 1] if i + 1 < len(found) else None
    return (found[i].kind == "year" and nxt is not None and nxt.kind == "year"
            and bool(_REVIEW_OF.match(text[found[i].end:nxt.start])))


def _groups(text: str, toks: list[Token]) -> list[_Group]:
    """A year and a batch side by side (no separator between them) are one cohort."""
    groups: list[_Group] = []
    for t in toks:
        g = groups[-1] if groups else None
        if g and _fits(g, t) and not _SEPARATOR.search(text[g.end:t.start]):
            groups[-1] = _add(g, t)
        else:
            groups.append(_add(_Group(t.start, t.end), t))
    return groups


def _fits(g: _Group, t: Token) -> bool:
    return (g.year is None) if t.kind == "year" else (g.batch is None)


def _add(g: _Group, t: Token) -> _Group:
    if t.kind == "year":
        return replace(g, end=max(g.end, t.end), year=t.value)
    return replace(g, end=max(g.end, t.end), batch=t.value, support_year=t.support_year)


def _cohorts(text: str, body_stage: str | None) -> tuple[Cohort, ...]:
    whole = _stages(text)
    fallback = whole[0] if whole else (body_stage or "other")
    groups = _groups(text, tokens(text))
    if len(groups) < 2:
        g = groups[0] if groups else _Group(0, 0)
        return (Cohort(g.batch, g.year, bool(_REVIEW.search(text)), fallback, g.support_year),)
    frame = text[:groups[0].start] + _frame_end(text)
    cuts = [groups[0].start] + [_cut(text, a, b) for a, b in zip(groups, groups[1:])] + [len(text)]
    out: list[Cohort] = []
    for i, g in enumerate(groups):
        seg = text[cuts[i]:cuts[i + 1]]
        stages = _stages(seg + "|" + frame)
        out.append(Cohort(g.batch, g.year, bool(_REVIEW.search(seg)), stages[0] if stages else fallback, g.support_year))
    return _share_bare(text, groups, out)


def _cut(text: str, a: _Group, b: _Group) -> int:
    """Where one cohort's stretch ends: at the last separator before the next cohort ("…企业和通过复核的第三批")."""
    seps = list(_SEPARATOR.finditer(text, a.end, b.start))
    return seps[-1].start() if seps else b.start


def _frame_end(text: str) -> str:
    m = _FRAME_END.search(text)
    return m.group() if m else ""


def _share_bare(text: str, groups: list[_Group], cohorts: list[Cohort]) -> tuple[Cohort, ...]:
    """"2021年、2022年…复核": a cohort with nothing of its own shares the next one's review and stage,
    and passes its year on ("2023年度第一批、第二批")."""
    for i in range(len(groups) - 2, -1, -1):
        rest = text[groups[i].end:groups[i + 1].start]
        if _SEPARATOR.sub("", rest).strip():
            continue
        nxt = cohorts[i + 1]
        cohorts[i] = replace(cohorts[i], review=nxt.review, stage=nxt.stage)
        if nxt.year is None and cohorts[i].year is not None:
            cohorts[i + 1] = replace(nxt, year=cohorts[i].year)
    return tuple(dict.fromkeys(cohorts))


# ---- level and region ----

def _level(text: str, match: ProgramMatch | None, body: str | None) -> str | None:
    q = _qualifier(text, match)
    if q:
        return q
    program = match.program if match else None
    if program and program.keeps_level:
        return program.level
    place = _nearest_place(text, match)
    if place:
        return place.level
    signed = signature_place(body) if body else None
    if signed:
        return signed.level
    return program.level if program else None


def _qualifier(text: str, match: ProgramMatch | None) -> str | None:
    found = list(_QUALIFIER.finditer(text))
    if not found:
        return None
    before = [m for m in found if match is None or m.start() < match.end]
    m = before[-1] if before else found[0]
    word = m.group().lower()
    return _QUALIFIER_LEVEL[word[0] if word[0] > "\u3000" else re.split(r"\W", word)[0]]


def _issuer_places(text: str) -> list[Place]:
    """Places that can issue: not the addressee of a 同意 (关于同意平湖市…的批复)."""
    return [p for p in places(text) if not text[:p.start].endswith("同意")]


def _nearest_place(text: str, match: ProgramMatch | None) -> Place | None:
    found = _issuer_places(text)
    if not found:
        return None
    before = [p for p in found if match is not None and p.start < match.start]
    return before[-1] if before else found[0]


def _region(text: str, body: str | None) -> str | None:
    named = [p for p in _issuer_places(text) if p.name]
    if named:
        return named[0].name
    signed = signature_place(body) if body else None
    return signed.name if signed else None


# ---- English news: "X was selected as the core area for Y" ----

_CAP = r"[A-Z][\w'’-]*"
_PLACE = rf"{_CAP}(?:\s+(?:(?:and|of|the)\s+)?{_CAP})*"
_CORE_AREA = re.compile(
    rf"(?P<place>{_PLACE})\s+(?P<verb>was|were|has been|have been|is|are)\s+(?:selected|chosen|named|identified|listed)"
    rf"\s+as\s+(?:the\s+|a\s+)?core\s+areas?\s+(?:for|of)\s+(?:the\s+)?(?P<cluster>.+?)"
    rf"(?=\s*[,.;，。；]|\s+while\b|\s+whereas\b|\s+and\s+{_CAP}(?:\s+{_CAP})*\s+(?:was|were)\b|$)")


def extract_core_areas(text: str) -> list[tuple[str, str]]:
    """(place, cluster) pairs from sentences "X was selected/chosen as the core area for Y".

    >>> extract_core_areas("Pinghu City was chosen as the core area for robot and CNC machine tool industry clusters.")
    [('Pinghu City', 'robot and CNC machine tool industry clusters')]
    """
    pairs: list[tuple[str, str]] = []
    for m in _CORE_AREA.finditer(normalise(text)):
        place = re.sub(r"^(?:The|In addition|Meanwhile|Also)\s+", "", m.group("place"))
        names = re.split(r"\s+and\s+", place) if m.group("verb") in ("were", "have been", "are") else [place]
        pairs += [(name.strip(), m.group("cluster").strip()) for name in names if name.strip()]
    return pairs
