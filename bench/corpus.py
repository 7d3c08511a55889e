"""A synthetic corpus of bureau list and detail pages, shaped like the real CMS families.

``python -m bench.corpus OUT --sources N`` (or :func:`generate`) writes, under ``OUT/www``,
one column per source and ``OUT/manifest.json`` describing them. Families, in a fixed
rotation of 20 (see ``_FAMILY_CYCLE``):

* ``static`` (40 %): plain ``ul.news-list > li > a[title] + span.date`` list, UTF-8;
* ``static-gb`` (15 %): the same shape written in gb18030 bytes under ``<meta charset="gb2312">``
  (nginx sends no charset, so the ``<meta>`` sniff decides; some titles hold GBK-only
  characters such as 镕 and 喆 that a strict gb2312 codec rejects);
* ``hanweb-jpage`` (30 %): a Hanweb column page whose records sit in
  ``<script type="text/xml"><datastore>…<record><![CDATA[<p class="lb-list">…]]>``
  (one source in five uses the ``<li><a title><span>`` record shape instead), with the
  ``<nextgroup>`` dataproxy link and the ``jpage({...})`` call;
* ``trs`` (15 %): a TRS WCM ``index.html`` with ``createPageHTML(N, 0, "index", "html")`` and
  relative ``./YYYYMM/tYYYYMMDD_ID.html`` links.

Every page carries the heavy chrome of a real government site (the seven list-page
``<meta>`` tags, stylesheet and script tags, inline CSS and JS, a nav of ~60 undated links,
a dated "hot news" side box, a friendly-links ``<select>`` and the 网站标识码 / ICP footer),
so list pages weigh 20-40 KB like the real ones. Each list holds 20-30 items. The first
``details`` items of every source also get a detail page (government ``<meta>`` tags,
``#zoom`` / ``div.TRS_Editor`` body, a cluster table, attachment links).

Source ``i`` is served from host ``127.0.0.{2 + i % hosts}`` (round-robin over 50 loopback
addresses by default); all hosts share one document root, each source under ``/sNNNN/``.
The output is deterministic for a given ``(sources, seed)``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

HOSTS = 50
_FAMILY_CYCLE = (["static"] * 8) + (["static-gb"] * 3) + (["hanweb-jpage"] * 6) + (["trs"] * 3)

_CITIES = ["嘉兴市", "平湖市", "杭州市", "湖州市", "绍兴市", "宁波市", "温州市", "金华市", "台州市", "丽水市",
           "衢州市", "舟山市", "海宁市", "桐乡市", "嘉善县", "海盐县", "余杭区", "诸暨市", "义乌市", "慈溪市"]
_PROVS = ["浙江省", "江苏省", "安徽省", "全省", "全市"]
_THINGS = ["中小企业特色产业集群", "专精特新中小企业", "专精特新“小巨人”企业", "数字化车间", "省级工业设计中心",
           "隐形冠军企业", "创新型中小企业", "产业集群核心区", "智能工厂", "未来工厂", "绿色低碳工厂",
           "中小企业公共服务示范平台", "小微企业园", "企业技术中心", "服务型制造示范企业", "制造业单项冠军企业"]
_TOPICS = ["制造业数字化转型", "工业互联网平台建设", "节能降碳技术改造", "首台（套）装备推广应用", "软件和信息服务业",
           "产业链协同创新", "中小企业数字化改造", "工业设计创新", "企业上云用数赋智", "新一代人工智能产业",
           "集成电路产业", "生物医药产业", "新材料产业", "智能制造", "技术改造", "民营经济高质量发展"]
_ORGS = ["经济和信息化局", "经济和信息化厅", "发展和改革委员会", "科学技术局", "财政局", "商务局"]
# GBK-only characters (not in GB2312): a strict gb2312 codec fails on them, gb18030 does not
_GBK_ONLY_NAMES = ["浙江喆盛精密机械有限公司", "嘉兴镕鑫新材料有限公司", "平湖喆达电子科技有限公司",
                   "海宁镕通智能装备有限公司"]
_COMPANIES = ["浙江华锦纺织有限公司", "嘉兴恒创电力设备有限公司", "平湖市东方汽配有限公司", "浙江新安化工集团",
              "海宁精工机械股份有限公司", "桐乡振石新材料有限公司", "嘉善宏达光电有限公司", "浙江明泰标准件有限公司",
              "浙江三鼎织造有限公司", "海盐通惠铸造有限公司"]

_TEMPLATES = [
    "关于公布{year}年{prov}{thing}（第{batch}批）名单的通知",
    "关于{year}年{prov}{thing}拟认定名单的公示",
    "关于开展{year}年度{prov}{thing}申报工作的通知",
    "{city}{org}关于印发《{city}{topic}行动方案（{year}—{year2}年）》的通知",
    "关于组织申报{year}年{topic}专项资金项目的通知",
    "关于做好{year}年{topic}工作的通知",
    "{year}年{city}{topic}工作情况通报",
    "关于征集{year}年{topic}典型案例的通知",
    "关于{year}年{city}{thing}复核结果的公示",
    "关于下达{year}年{city}{topic}补助资金的通知",
    "{city}{org}关于{company}等{n}家企业{thing}认定结果的公告",
    "关于举办{year}年{city}{topic}专题培训班的通知",
]
_BATCHES = "一二三四五六"


@dataclass(frozen=True)
class SourceSpec:
    """One source of the corpus, as the bench's configs and the floor need it."""

    name: str
    index: int
    family: str  # static | static-gb | hanweb-jpage | trs
    kind: str  # the clusterwatch adapter kind: static | hanweb-jpage | trs
    host: str  # 127.0.0.X
    path: str  # the list page's path, e.g. /s0007/col/col1229400007/index.html
    encoding: str  # utf-8 | gb18030
    items: int
    list_bytes: int
    item_selector: str  # what the floor (and the static config) select items with
    date_selector: str
    details: tuple[str, ...]  # paths of the detail pages written for this source


def family_of(i: int) -> str:
    return _FAMILY_CYCLE[i % len(_FAMILY_CYCLE)]


def host_of(i: int, hosts: int = HOSTS) -> str:
    return f"127.0.0.{2 + i % hosts}"


# ---------------------------------------------------------------------------------------------- text


def _title(rng: random.Random, city: str, gb: bool) -> str:
    t = rng.choice(_TEMPLATES)
    year = rng.choice([2024, 2025, 2026])
    company = rng.choice(_GBK_ONLY_NAMES if gb and rng.random() < 0.5 else _COMPANIES)
    return t.format(year=year, year2=year + 2, prov=rng.choice(_PROVS), thing=rng.choice(_THINGS),
                    batch=rng.choice(_BATCHES), city=city, org=rng.choice(_ORGS), topic=rng.choice(_TOPICS),
                    company=company, n=rng.randint(3, 60))


def _short(title: str, n: int = 24) -> str:
    return title if len(title) <= n else title[:n] + "..."


def _css(rng: random.Random) -> str:
    rules = []
    for sel in ("body", ".top-bar", ".header", ".header .logo", ".nav", ".nav li", ".nav li a", ".nav .sub",
                ".crumb", ".main", ".left-menu", ".left-menu h2", ".left-menu li", ".right", ".column-title",
                ".list-box", ".news-list li", ".news-list li a", ".news-list .date", ".lb-list", ".lb-list a",
                ".lb-list span", ".hot-box", ".hot-box li", ".pager", ".pager a", ".footer", ".footer p",
                ".friend-links", ".friend-links select", ".clearfix:after", ".search-box", ".search-box input"):
        props = rng.sample(["margin:0 auto", "padding:0 12px", "font-size:14px", "line-height:36px",
                            "color:#333", "color:#0d5aa7", "background:#f5f5f5", "border-bottom:1px dashed #ccc",
                            "overflow:hidden", "white-space:nowrap", "text-overflow:ellipsis", "float:left",
                            "float:right", "width:1100px", "height:40px", "display:block", "list-style:none",
                            "text-decoration:none", "font-family:\"Microsoft YaHei\",SimSun,sans-serif"], 5)
        rules.append(f"{sel}{{{';'.join(props)}}}")
    return "\n".join(rules)


_JS = """
var _hmt = _hmt || [];
(function(){var hm=document.createElement("script");hm.src="//hm.baidu.com/hm.js?5a8e2d7c1f0b9a3e4d6c8b7a9f1e2d3c";
var s=document.getElementsByTagName("script")[0];s.parentNode.insertBefore(hm,s);})();
function setTab(name,cursel,n){for(var i=1;i<=n;i++){var menu=document.getElementById(name+i);
var con=document.getElementById("con_"+name+"_"+i);if(menu){menu.className=i==cursel?"hover":"";}
if(con){con.style.display=i==cursel?"block":"none";}}}
function changeFont(size){var zoom=document.getElementById("zoom");if(zoom){zoom.style.fontSize=size+"px";}}
$(function(){$(".nav li").hover(function(){$(this).addClass("on").find(".sub").stop(true,true).slideDown(150);},
function(){$(this).removeClass("on").find(".sub").stop(true,true).slideUp(100);});
$(".search-box input").focus(function(){if(this.value==this.defaultValue){this.value="";}})
.blur(function(){if(this.value===""){this.value=this.defaultValue;}});
var d=new Date();$("#today").text(d.getFullYear()+"年"+(d.getMonth()+1)+"月"+d.getDate()+"日");});
"""

_NAV = {
    "首页": [],
    "机构概况": ["领导信息", "机构职能", "内设机构", "直属单位", "联系方式"],
    "政务公开": ["政府信息公开指南", "政府信息公开制度", "法定主动公开内容", "政府信息公开年报", "依申请公开",
             "规范性文件", "政策解读", "人事信息", "财政预决算", "建议提案办理"],
    "新闻动态": ["工作动态", "基层动态", "媒体聚焦", "图片新闻", "视频新闻"],
    "通知公告": ["通知", "公告", "公示", "招标采购"],
    "经信专栏": ["中小企业", "数字经济", "产业集群", "工业投资", "节能降耗", "安全生产", "专精特新", "技术创新"],
    "政务服务": ["办事指南", "表格下载", "网上办事", "服务清单", "办件公示"],
    "互动交流": ["局长信箱", "咨询投诉", "在线访谈", "意见征集", "常见问题", "民意调查"],
    "专题专栏": ["营商环境", "数字化改革", "共同富裕", "法治政府建设", "乡村振兴", "双随机一公开"],
}
_FRIENDS = ["中国政府网", "工业和信息化部", "浙江省人民政府", "浙江省经济和信息化厅", "浙江省发展和改革委员会",
            "浙江省科学技术厅", "浙江省财政厅", "浙江省商务厅", "浙江省统计局", "浙江省市场监督管理局",
            "嘉兴市人民政府", "平湖市人民政府", "海宁市人民政府", "桐乡市人民政府", "嘉善县人民政府", "海盐县人民政府",
            "杭州市经济和信息化局", "宁波市经济和信息化局", "温州市经济和信息化局", "湖州市经济和信息化局",
            "绍兴市经济和信息化局", "金华市经济和信息化局", "衢州市经济和信息化局", "舟山市经济和信息化局",
            "台州市经济和信息化局", "丽水市经济和信息化局", "浙江政务服务网", "信用中国（浙江）", "浙江省中小企业公共服务平台",
            "中国中小企业信息网", "国家企业信用信息公示系统", "全国一体化在线政务服务平台"]


def _head(site: str, column: str, charset: str, rng: random.Random) -> str:
    domain = f"www{rng.randint(1, 99)}.example.gov.cn"
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="{charset}">
<meta http-equiv="X-UA-Compatible" content="IE=edge,chrome=1">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{column} {site}</title>
<meta name="SiteName" content="{site}">
<meta name="SiteDomain" content="{domain}">
<meta name="SiteIDCode" content="33{rng.randint(10, 99)}000{rng.randint(10, 99)}{rng.randint(10, 99)}">
<meta name="ColumnName" content="{column}">
<meta name="ColumnDescription" content="发布{site}各类{column}信息">
<meta name="ColumnKeywords" content="{column},公示,名单,通知">
<meta name="ColumnType" content="{column}">
<link rel="stylesheet" type="text/css" href="/images/{rng.randint(1000, 9999)}/css/reset.css">
<link rel="stylesheet" type="text/css" href="/images/{rng.randint(1000, 9999)}/css/common.css">
<link rel="stylesheet" type="text/css" href="/images/{rng.randint(1000, 9999)}/css/list.css">
<script type="text/javascript" src="/module/jslib/jquery/jquery.js"></script>
<script type="text/javascript" src="/module/jslib/urite/urite.min.js"></script>
<script type="text/javascript" src="/script/common.js"></script>
<style type="text/css">
{_css(rng)}
</style>
<script type="text/javascript">{_JS}</script>
</head>
"""


def _top(site: str, column: str, prefix: str, rng: random.Random) -> str:
    nav = []
    for n, (menu, subs) in enumerate(_NAV.items()):
        sub = "".join(f'<li><a href="{prefix}/col/col{rng.randint(1229000000, 1229999999)}/index.html" '
                      f'target="_blank">{s}</a></li>' for s in subs)
        nav.append(f'<li id="nav{n}"><a href="{prefix}/col/col{rng.randint(1229000000, 1229999999)}/index.html">{menu}</a>'
                   + (f'<ul class="sub">{sub}</ul>' if sub else "") + "</li>")
    on = ' class="on"'
    left = "".join(f'<li id="menu{k}"{on if k == 1 else ""}><a href="{prefix}/col/col{rng.randint(1229000000, 1229999999)}/index.html">{s}</a></li>'
                   for k, s in enumerate(["通知公告", "工作动态", "政策文件", "政策解读", "办事指南", "表格下载", "公示公告"], 1))
    return f"""<body>
<div class="top-bar"><div class="w1100">今天是：<span id="today"></span>&nbsp;&nbsp;<a href="javascript:void(0)">无障碍浏览</a>&nbsp;|&nbsp;<a href="javascript:void(0)">长者模式</a>&nbsp;|&nbsp;<a href="{prefix}/index.html">手机版</a>&nbsp;|&nbsp;<a href="javascript:void(0)">English</a></div></div>
<div class="header"><div class="logo"><a href="{prefix}/index.html"><img src="/images/logo.png" alt="{site}">{site}</a></div>
<div class="search-box"><form action="/jrobot/search.do" method="get" target="_blank"><input type="hidden" name="webid" value="{rng.randint(1000, 9999)}"><input type="text" name="q" value="请输入关键字"><button type="submit">搜索</button></form></div></div>
<div class="nav"><ul>{"".join(nav)}</ul></div>
<div class="crumb">当前位置：<a href="{prefix}/index.html">首页</a> &gt; <a href="{prefix}/col/col1229000001/index.html">政务公开</a> &gt; <span>{column}</span></div>
<div class="main clearfix">
<div class="left-menu"><h2>政务公开</h2><ul>{left}</ul></div>
<div class="right">
<div class="column-title"><span>{column}</span><em>Notice</em></div>
"""


def _hot_box(prefix: str, rng: random.Random, city: str, today: date) -> str:
    """A 'hot news' side box of dated links, smaller than the main list (the heuristic must ignore it)."""
    rows = []
    for k in range(8):
        d = today - timedelta(days=rng.randint(1, 400))
        rows.append(f'<li><a href="{prefix}/art/{d.year}/{d.month}/{d.day}/art_1229000099_{rng.randint(4000000, 5999999)}.html" '
                    f'title="{city}召开{rng.choice(_TOPICS)}推进会">{city}召开{rng.choice(_TOPICS)}推进会</a>'
                    f"<em>{d.month:02d}-{d.day:02d}</em></li>")
    return f'<div class="hot-box"><h3>热点信息</h3><ul>{"".join(rows)}</ul></div>\n'


def _footer(site: str, rng: random.Random) -> str:
    friends = "".join(f'<option value="https://www{k}.example.gov.cn/">{f}</option>' for k, f in enumerate(_FRIENDS))
    groups = "".join(f'<select onchange="if(this.value)window.open(this.value)"><option value="">{g}</option>{friends}</select>'
                     for g in ("国家部委网站", "省级部门网站", "市县政府网站"))
    return f"""</div></div>
<div class="friend-links">友情链接：{groups}</div>
<div class="footer">
<p><a href="/col/col1229000010/index.html">网站地图</a> | <a href="/col/col1229000011/index.html">联系我们</a> | <a href="/col/col1229000012/index.html">隐私声明</a> | <a href="/col/col1229000013/index.html">网站纠错</a></p>
<p>主办单位：{site}&nbsp;&nbsp;承办单位：{site}办公室&nbsp;&nbsp;地址：{rng.choice(_CITIES)}中山东路{rng.randint(1, 2000)}号&nbsp;&nbsp;邮编：3140{rng.randint(0, 99):02d}</p>
<p>联系电话：0573-8{rng.randint(1000000, 9999999)}&nbsp;&nbsp;网站标识码：33{rng.randint(10000000, 99999999)}&nbsp;&nbsp;<a href="https://beian.miit.gov.cn/" target="_blank">浙ICP备{rng.randint(10000000, 99999999)}号</a>&nbsp;&nbsp;<img src="/images/ga.png" alt="">浙公网安备 330{rng.randint(10000000000, 99999999999)}号</p>
<p><script type="text/javascript">document.write(unescape("%3Cspan id='_ideConac' %3E%3C/span%3E%3Cscript src='https://dcs.conac.cn/js/{rng.randint(10, 99)}/000/0000/60{rng.randint(100000, 999999)}/CA{rng.randint(100000000000, 999999999999)}.js' type='text/javascript'%3E%3C/script%3E"));</script>
<span id="_span_jiucuo"></span><script id="_jiucuo_" sitecode="33{rng.randint(10000000, 99999999)}" src="https://zfwzgl.www.gov.cn/exposure/jiucuo.js"></script></p>
</div>
<script type="text/javascript" src="/script/0/{rng.randint(1000, 9999)}/stat.js"></script>
</body>
</html>
"""


# ---------------------------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class _Item:
    href: str  # as written in the list page
    path: str  # absolute path on the host
    title: str
    date: date


def _items(rng: random.Random, family: str, prefix: str, col: int, city: str, n: int) -> list[_Item]:
    d = date(2026, 11, 28) - timedelta(days=rng.randint(0, 20))
    out = []
    for _ in range(n):
        art = rng.randint(4_000_000, 5_999_999)
        title = _title(rng, city, family == "static-gb")
        if family == "hanweb-jpage":
            path = f"{prefix}/art/{d.year}/{d.month}/{d.day}/art_{col}_{art}.html"
            href = path
        elif family == "trs":
            path = f"{prefix}/zwgk/tzgg/{d:%Y%m}/t{d:%Y%m%d}_{art}.html"
            href = f"./{d:%Y%m}/t{d:%Y%m%d}_{art}.html"
        else:
            path = f"{prefix}/xxgk/tzgg/{d:%Y%m}/content_{art}.html"
            href = path
        out.append(_Item(href, path, title, d))
        d -= timedelta(days=rng.randint(0, 9))
    return out


def _static_list(items: list[_Item]) -> str:
    rows = "\n".join(f'<li><a href="{it.href}" title="{it.title}" target="_blank">{_short(it.title)}</a>'
                     f'<span class="date">{it.date.isoformat()}</span></li>' for it in items)
    pages = 12
    pager = "".join(f'<a href="index_{k}.html">{k + 1}</a>' for k in range(1, 6))
    return (f'<div class="list-box">\n<ul class="news-list">\n{rows}\n</ul>\n'
            f'<div class="pager">共{pages}页 <span class="cur">1</span>{pager}<a href="index_1.html">下一页</a>'
            f'<a href="index_{pages - 1}.html">尾页</a></div>\n</div>\n')


def _trs_list(items: list[_Item], rng: random.Random) -> str:
    rows = "\n".join(f'<li><a href="{it.href}" title="{it.title}" target="_blank">{_short(it.title, 30)}</a>'
                     f'<span>{it.date.isoformat()}</span></li>' for it in items)
    count = rng.randint(8, 40)
    return (f'<div class="list-box">\n<ul class="list">\n{rows}\n</ul>\n'
            f'<div class="page"><script type="text/javascript">\n'
            f'var currentPage = 0;//所在页从0开始\nvar prevPage = currentPage-1;\nvar nextPage = currentPage+1;\n'
            f'var countPage = {count};//共多少页\n'
            f'createPageHTML({count}, 0, "index", "html");\n</script></div>\n</div>\n')


def _jpage_list(items: list[_Item], rng: random.Random, col: int, site: str, li_shape: bool) -> str:
    unit = rng.randint(5_000_000, 6_999_999)
    webid = rng.randint(2000, 4000)
    records = []
    for it in items:
        if li_shape:
            rec = (f"<li><a href='{it.href}' title='{it.title}' target='_blank'>{_short(it.title)}</a>"
                   f"<span>{it.date.isoformat()}</span></li>")
        else:
            rec = (f'<p class="lb-list"><a href="{it.href}" title="{it.title}" target="_blank">{_short(it.title)}</a>'
                   f"<span>{it.date.isoformat()}</span></p>")
        records.append(f"<record><![CDATA[\n{rec}\n]]></record>")
    total = len(items) + rng.randint(100, 3000)
    nextgroup = (f'<a href="/module/jpage/dataproxy.jsp?page=1&appid=1&webid={webid}&path=/&columnid={col}'
                 f'&unitid={unit}&webname={site}&permissiontype=0"></a>')
    return (f'<div class="list-box">\n<div id="{unit}"><script type="text/xml"><datastore>\n'
            f"<nextgroup><![CDATA[{nextgroup}]]></nextgroup>\n<recordset>\n" + "\n".join(records)
            + "\n</recordset>\n</datastore></script></div>\n"
            f'<script language="javascript" src="/module/jpage/jpage.js"></script>\n'
            f'<script>$("#{unit}").jpage({{dataStore:dataStore,totalRecord:{total},perPage:{len(items)},'
            f"proxyUrl:'/module/jpage/dataproxy.jsp',ajaxParam:{{col:1,appid:1,webid:{webid},path:'/',"
            f"columnid:{col},sourceContentType:1,unitid:{unit},webname:'{site}',permissiontype:0}},"
            f"openCookies:false,barPosition:'bottom',groupSize:3,showMode:'full'}});</script>\n</div>\n")


def _detail(it: _Item, family: str, site: str, column: str, charset: str, rng: random.Random, prefix: str) -> str:
    att_href = {"hanweb-jpage": f"/module/download/downfile.jsp?classid=0&showname=%E9%99%84%E4%BB%B6.xlsx&filename={rng.getrandbits(64):x}.xlsx",
                "trs": f"./P0{it.date:%Y%m%d}{rng.randint(100000, 999999)}.pdf"}.get(family, f"{prefix}/uploadfile/{it.date:%Y%m}/{rng.getrandbits(48):x}.xlsx")
    rows = "".join(f"<tr><td>{k}</td><td>{rng.choice(_CITIES)}{rng.choice(_TOPICS)}产业集群</td><td>{rng.choice(_COMPANIES)}</td></tr>"
                   for k in range(1, rng.randint(8, 25)))
    paras = "".join(f"<p style=\"text-indent:2em\">根据《{rng.choice(_PROVS)}{rng.choice(_TOPICS)}实施意见》要求，经企业申报、"
                    f"地方推荐、专家评审和社会公示等程序，现将{rng.choice(_THINGS)}有关事项通知如下。</p>" for _ in range(rng.randint(4, 10)))
    body_open = '<div class="TRS_Editor">' if family == "trs" else '<div id="zoom">'
    return (_head(site, column, charset, rng).replace("</head>", f'<meta name="ArticleTitle" content="{it.title}">\n'
            f'<meta name="PubDate" content="{it.date.isoformat()} 09:{rng.randint(10, 59)}">\n'
            f'<meta name="ContentSource" content="{site}">\n<meta name="Keywords" content="名单,公示">\n'
            f'<meta name="Author" content="{site}">\n<meta name="Description" content="{it.title}">\n'
            f'<meta name="Image" content="">\n<meta name="Url" content="{it.path}">\n</head>')
            + _top(site, column, prefix, rng)
            + f'<div class="article"><h1 class="title">{it.title}</h1>\n'
            f'<div class="info">发布日期：{it.date.isoformat()}&nbsp;&nbsp;来源：{site}&nbsp;&nbsp;浏览次数：<span id="c">{rng.randint(10, 9999)}</span></div>\n'
            f"{body_open}{paras}<table border=\"1\"><tr><th>序号</th><th>集群名称</th><th>牵头单位</th></tr>{rows}</table>"
            f'<p>附件：<a href="{att_href}">附件1.{rng.choice(_THINGS)}名单.xlsx</a></p></div>\n</div>\n'
            + _footer(site, rng))


def generate(out: str | Path, sources: int, *, seed: int = 0, hosts: int = HOSTS, details: int = 2,
             min_items: int = 20, max_items: int = 30) -> list[SourceSpec]:
    """Write the corpus under ``out`` (``www/`` + ``manifest.json``); return the sources."""
    out = Path(out)
    www = out / "www"
    if www.exists():
        shutil.rmtree(www)
    www.mkdir(parents=True)
    (www / "robots.txt").write_text("User-agent: *\nDisallow: /module/download/\n", encoding="ascii")
    specs = []
    for i in range(sources):
        rng = random.Random(seed * 1_000_003 + i)
        family = family_of(i)
        prefix = f"/s{i:04d}"
        city = rng.choice(_CITIES)
        site = f"{city}{rng.choice(_ORGS)}"
        column = rng.choice(["通知公告", "公示公告", "政策文件", "工作通知"])
        gb = family == "static-gb"
        charset = "gb2312" if gb else "utf-8"
        encoding = "gb18030" if gb else "utf-8"
        col = 1229400000 + i
        items = _items(rng, family, prefix, col, city, rng.randint(min_items, max_items))
        li_shape = family == "hanweb-jpage" and i % 5 == 0
        if family == "hanweb-jpage":
            path, body = f"{prefix}/col/col{col}/index.html", _jpage_list(items, rng, col, site, li_shape)
            item_sel, date_sel = ("li" if li_shape else "p.lb-list"), "span"
            kind = "hanweb-jpage"
        elif family == "trs":
            path, body = f"{prefix}/zwgk/tzgg/index.html", _trs_list(items, rng)
            item_sel, date_sel, kind = "ul.list > li", "span", "trs"
        else:
            path, body = f"{prefix}/xxgk/tzgg/index.html", _static_list(items)
            item_sel, date_sel, kind = "ul.news-list > li", "span.date", "static"
        today = items[0].date
        html = (_head(site, column, charset, rng) + _top(site, column, prefix, rng) + body
                + _hot_box(prefix, rng, city, today) + _footer(site, rng))
        data = html.encode(encoding)
        target = www / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written = []
        for it in items[:details]:
            f = www / it.path.lstrip("/")
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(_detail(it, family, site, column, charset, rng, prefix).encode(encoding))
            written.append(it.path)
        specs.append(SourceSpec(name=f"s{i:04d}", index=i, family=family, kind=kind, host=host_of(i, hosts),
                                path=path, encoding=encoding, items=len(items), list_bytes=len(data),
                                item_selector=item_sel, date_selector=date_sel, details=tuple(written)))
    (out / "manifest.json").write_text(json.dumps({"seed": seed, "hosts": hosts, "sources": [asdict(s) for s in specs]},
                                                  ensure_ascii=False, indent=0), encoding="utf-8")
    return specs


def load_manifest(out: str | Path) -> list[SourceSpec]:
    raw = json.loads((Path(out) / "manifest.json").read_text(encoding="utf-8"))
    return [SourceSpec(**{**s, "details": tuple(s["details"])}) for s in raw["sources"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--sources", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hosts", type=int, default=HOSTS)
    ap.add_argument("--details", type=int, default=2, help="detail pages written per source")
    args = ap.parse_args()
    specs = generate(args.out, args.sources, seed=args.seed, hosts=args.hosts, details=args.details)
    by_family: dict[str, list[int]] = {}
    for s in specs:
        by_family.setdefault(s.family, []).append(s.list_bytes)
    for fam, sizes in sorted(by_family.items()):
        sizes.sort()
        print(f"{fam:13} {len(sizes):5} sources  list page {sizes[0] / 1024:.1f}-{sizes[-1] / 1024:.1f} KiB "
              f"(median {sizes[len(sizes) // 2] / 1024:.1f})")
    print(f"items: {sum(s.items for s in specs)}  written to {args.out}")


if __name__ == "__main__":
    main()
