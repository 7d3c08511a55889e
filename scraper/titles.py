"""Pure title helpers: normalisation (reference §5.2) and the places that give a title its region and level.

    >>> normalise_title("附件1：關於第１２批專精特新「小巨人」企業 名單_1 (1).pdf")
    '关于第12批专精特新"小巨人"企业名单'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Traditional -> simplified, for the characters these titles use (reprints on 繁體 portals). Pairs "繁简".
_TRAD = (
    "業业 專专 產产 産产 單单 認认 區区 發发 佈布 與与 關关 於于 縣县 級级 優优 質质 體体 協协 會会 華华 國国 經经 濟济 資资 訊讯 廳厅 "
    "應应 門门 開开 務务 辦办 組组 織织 薦荐 報报 請请 審审 評评 價价 績绩 結结 銷销 複复 復复 號号 屆届 兩两 億亿 萬万 個个 團团 園园 "
    "術术 學学 鎮镇 鄉乡 廣广 東东 蘇苏 陝陕 貴贵 雲云 遼辽 龍龙 寧宁 臺台 灣湾 興兴 紹绍 溫温 麗丽 鹽盐 臨临 滬沪 製制 據据 點点 動动 "
    "機机 數数 電电 網网 絡络 設设 備备 裝装 導导 車车 軟软 創创 節节 約约 類类 試试 驗验 範范 劃划 計计 將将 對对 實实 現现 為为 從从 "
    "這这 進进 處处 員员 問问 間间 長长 廠厂 礎础 標标 準准 項项 題题 顯显 頒颁 獎奖 勵励 稱称 種种 積积 極极 構构 權权 條条 來来 決决 "
    "減减 測测 環环 統统 總总 綜综 線线 續续 維维 納纳 細细 聯联 職职 藥药 蘭兰 衛卫 補补 覽览 觀观 規规 視视 記记 許许 證证 說说 調调 "
    "諮咨 護护 讓让 豐丰 貿贸 費费 購购 輕轻 輸输 轉转 農农 運运 過过 達达 遠远 適适 選选 邊边 醫医 釋释 鋼钢 錄录 鏈链 閥阀 陸陆 陽阳 "
    "隊队 際际 階阶 險险 雙双 離离 難难 靈灵 頭头 額额 風风 飛飞 養养 馬马 驅驱 黃黄 齊齐 擬拟 啟启 註注 綫线 儀仪 傳传 營营 參参 擴扩 "
    "滙汇 匯汇 並并 週周 後后 裡里 衆众 眾众 鄭郑 貫贯 廈厦 島岛 漢汉 濱滨 嶼屿 黨党 軍军 紀纪 圍围 圖图 遞递 辭辞 屬属 簡简 強强 陣阵 "
    "庫库 錶表 歲岁 歷历 曆历 聖圣 嚴严 競竞 賽赛 鷹鹰 隱隐 態态 輪轮 軸轴 氣气 儲储 鋰锂 礦矿 鐵铁 銅铜 鋁铝 綠绿 築筑 樓楼 飾饰 紡纺 "
    "紗纱 絲丝 盤盘 戶户 帶带 師师 稅税 財财 貸贷 幣币 銀银 彈弹 藝艺 輯辑 舉举 餘余 蕭萧 諸诸 義义 烏乌 樂乐 嶺岭 "
    "巖岩 縉缙 谿溪 侖仑 錢钱 廬庐 蒼苍 甌瓯 橋桥 遊游 蓮莲 慶庆 內内 肅肃 爾尔 壯壮 無无 錫锡 瀋沈 連连 莊庄 繼继 "
    "徵征 確确"
)
_FOLD = {ord(pair[0]): pair[1] for pair in _TRAD.split()}
# 覆 folds to 复 only in these words (覆盖 stays 覆).
_WORDS = re.compile("覆核|批覆|答覆")
_QUOTES = str.maketrans({c: '"' for c in "“”„‟〝〞〟「」『』＂"} | {c: "[" for c in "【〔［〖"} | {c: "]" for c in "】〕］〗"})
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_CJK_PUNCT = r"\u3000-\u303f\uff00-\uffef—·"  # CJK punctuation only: ASCII quotes keep English spacing
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}{_CJK_PUNCT}])\s+|\s+(?=[{_CJK}{_CJK_PUNCT}])")
_SINGLE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])[‘’]|[‘’](?=[{_CJK}])")
_EXT = re.compile(r"\.(?:pdf|docx?|xlsx?|wps|et|ofd|zip|rar|7z|txt|csv|jpe?g|png)$", re.I)
# _1 (1) (2) at the end, matched on the reversed title: a $-anchored search retried every "(1)" of a long chain
_DOWNLOAD_REVERSED = re.compile(r"(?:\)\d{1,2}\(\s*)*(?:\d{1,2}_)?")
_PREFIXES = (re.compile(r"^(?:附件|attachment)\s*[\d一二三四五六七八九十]*\s*[:.、_-]?\s*", re.I),
             re.compile(r"^\d{1,2}\s*[.、](?:(?!\d)|(?=\d{4}年))\s*"))


def normalise(text: str) -> str:
    """NFKC, traditional -> simplified, one kind of quote and bracket, stray spaces gone or collapsed."""
    text = unicodedata.normalize("NFKC", text or "").translate(_FOLD).translate(_QUOTES)
    text = _WORDS.sub(lambda m: m.group().replace("覆", "复"), text)
    text = _SINGLE_NEAR_CJK.sub('"', text).replace("‘", "'").replace("’", "'")
    text = re.sub(r"\s+", " ", text).strip()
    return _SPACE_NEAR_CJK.sub("", text)


def strip_attachment(title: str) -> str:
    """Drop 附件N： / N. prefixes, file extensions and download suffixes like ``_1 (1)``."""
    for _ in range(3):
        before = title
        for prefix in _PREFIXES:
            title = prefix.sub("", title, count=1)
        if _EXT.search(title):
            title = _EXT.sub("", title)
            title = title[:len(title) - _DOWNLOAD_REVERSED.match(title[::-1]).end()].strip()
        if title == before:
            break
    return title


def normalise_title(title: str) -> str:
    """:func:`normalise`, then :func:`strip_attachment`."""
    return strip_attachment(normalise(title))


@dataclass(frozen=True)
class Place:
    """A place (or a national issuer) named in a title."""

    name: str | None  # the region, e.g. 嘉兴市; None for national issuers and bare 省/市 issuers
    level: str
    start: int
    end: int


# Provincial-level units, with their short forms where titles use them.
_PROVINCES = (
    "北京市 天津市 上海市 重庆市 河北省 山西省 辽宁省 吉林省 黑龙江省 江苏省 浙江省 安徽省 福建省 江西省 山东省 "
    "河南省 湖北省 湖南省 广东省 海南省 四川省 贵州省 云南省 陕西省 甘肃省 青海省 台湾省 内蒙古自治区 "
    "广西壮族自治区 西藏自治区 宁夏回族自治区 新疆维吾尔自治区 新疆生产建设兵团"
).split()
_ZJ_CITIES = "杭州市 宁波市 温州市 嘉兴市 湖州市 绍兴市 金华市 衢州市 舟山市 台州市 丽水市".split()
_OTHER_CITIES = ("南京市 苏州市 无锡市 常州市 南通市 合肥市 福州市 厦门市 济南市 青岛市 郑州市 武汉市 长沙市 "
                 "广州市 深圳市 东莞市 佛山市 成都市 西安市 沈阳市 大连市 哈尔滨市 石家庄市 昆明市 南昌市").split()
_ZJ_COUNTIES = (
    "上城区 拱墅区 西湖区 滨江区 萧山区 余杭区 临平区 钱塘区 富阳区 临安区 桐庐县 淳安县 建德市 "
    "海曙区 江北区 北仑区 镇海区 鄞州区 奉化区 象山县 宁海县 余姚市 慈溪市 "
    "鹿城区 龙湾区 瓯海区 洞头区 永嘉县 平阳县 苍南县 文成县 泰顺县 瑞安市 乐清市 龙港市 "
    "南湖区 秀洲区 嘉善县 海盐县 海宁市 平湖市 桐乡市 吴兴区 南浔区 德清县 长兴县 安吉县 "
    "越城区 柯桥区 上虞区 新昌县 诸暨市 嵊州市 婺城区 金东区 武义县 浦江县 磐安县 兰溪市 义乌市 东阳市 永康市 "
    "柯城区 衢江区 常山县 开化县 龙游县 江山市 定海区 普陀区 岱山县 嵊泗县 "
    "椒江区 黄岩区 路桥区 三门县 天台县 仙居县 温岭市 临海市 玉环市 "
    "莲都区 青田县 缙云县 遂昌县 松阳县 云和县 庆元县 景宁畲族自治县 龙泉市"
).split()
GAZETTEER = ({p: "provincial" for p in _PROVINCES} | {"兵团": "provincial"}
             | {c: "municipal" for c in _ZJ_CITIES + _OTHER_CITIES} | {c: "county" for c in _ZJ_COUNTIES})
_ALIASES = {"兵团": "新疆生产建设兵团"}
_NATIONAL = ("工业和信息化部", "工信部", "中小企业局", "国务院", "科学技术部", "科技部", "财政部", "国家发展改革委",
             "国家发展和改革委员会", "市场监管总局")
_ISSUER_WORD = "经济|经信|工业|科学技术|科技|人民政府|政府|中小企业|发展和改革|发改|财政|商务|市场监督"
_PLACE_RE = re.compile("|".join(sorted(map(re.escape, list(GAZETTEER) + list(_NATIONAL)), key=len, reverse=True)))
_BARE_ISSUER = re.compile(rf"^(?:关于)?(省|市|县|区)(?={_ISSUER_WORD})")
_GENERIC_ISSUER = re.compile(rf"^([{_CJK}]{{2,4}}?(?:省|市|县|区))(?={_ISSUER_WORD}|关于)")
_EN_PLACES = {"Zhejiang": "浙江省", "Jiangsu": "江苏省", "Jiaxing": "嘉兴市", "Hangzhou": "杭州市", "Ningbo": "宁波市",
              "Wenzhou": "温州市", "Pinghu": "平湖市", "Jiashan": "嘉善县", "Haining": "海宁市", "Tongxiang": "桐乡市",
              "Haiyan": "海盐县", "Nanhu": "南湖区", "Xiuzhou": "秀洲区"}
_EN_PLACE_RE = re.compile(r"(?<!Made in )\b(" + "|".join(_EN_PLACES) + r")(?:\s+(?:Province|Provincial|City|Municipal|County|District))?\b")
_SUFFIX_LEVEL = {"省": "provincial", "市": "municipal", "县": "county", "区": "county"}
_PRONOUN = re.compile(r"我(省|市|县)")  # 我市新增…: the issuer's level without its name (我区 may be an autonomous region)
_EN_NATIONAL = re.compile(r"\bMIIT\b|Ministry of Industry and Information Technology", re.I)


def places(text: str) -> list[Place]:
    """Every place and national issuer in a normalised title, in order; city + county in a row -> the county."""
    found = [_place(m.group(), m.start(), m.end()) for m in _PLACE_RE.finditer(text)]
    found += [Place(_EN_PLACES[m.group(1)], GAZETTEER[_EN_PLACES[m.group(1)]], m.start(), m.end())
              for m in _EN_PLACE_RE.finditer(text)]
    found += [Place(None, "national", m.start(), m.end()) for m in _EN_NATIONAL.finditer(text)]
    found += [Place(None, _SUFFIX_LEVEL[m.group(1)], m.start(), m.end()) for m in _PRONOUN.finditer(text)]
    if not found:
        found = _issuer_only(text)
    found.sort(key=lambda p: p.start)
    return _merge_nested(found)


def _place(name: str, start: int, end: int) -> Place:
    if name in _NATIONAL:
        return Place(None, "national", start, end)
    return Place(_ALIASES.get(name, name), GAZETTEER[name], start, end)


def _issuer_only(text: str) -> list[Place]:
    """A title starting with a bare 省/市 issuer (省经信厅…) or an issuer place we have no list for."""
    m = _BARE_ISSUER.match(text)
    if m:
        return [Place(None, _SUFFIX_LEVEL[m.group(1)], m.start(1), m.end(1))]
    m = _GENERIC_ISSUER.match(text)
    if m and not re.search(r"^关于|[全我本各该]", m.group(1)):
        return [Place(m.group(1), _SUFFIX_LEVEL[m.group(1)[-1]], m.start(1), m.end(1))]
    return []


def _merge_nested(found: list[Place]) -> list[Place]:
    out: list[Place] = []
    for p in found:
        prev = out[-1] if out else None
        if prev and prev.name and p.name and prev.end == p.start and _rank(p.level) > _rank(prev.level):
            out[-1] = Place(p.name, p.level, prev.start, p.end)
        else:
            out.append(p)
    return out


def _rank(level: str) -> int:
    return ("national", "provincial", "municipal", "county").index(level)


def signature_place(body: str) -> Place | None:
    """The issuer named in the body's signature (its last lines): the last place followed by an office."""
    tail = normalise(body[-300:])
    best = None
    for m in re.finditer(rf"({_PLACE_RE.pattern})(?=[{_CJK}]{{0,6}}?(?:{_ISSUER_WORD}))", tail):
        best = _place(m.group(1), m.start(), m.end())
    return best
