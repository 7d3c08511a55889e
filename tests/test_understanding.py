"""Understanding end to end: a 公示 then its final list, over loopback, into batches, selections and events."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import config
from db import open_db
from scraper.runner import run_once
from tests.servers.http import FixtureServer, Resp
from tests.test_pipeline import ITEMS, LIST, list_page, serve

NOTICE = ("/art/2026/11/20/art_1229399350_5511876.html",
          "关于2026年浙江省中小企业特色产业集群（第二批）拟认定名单的公示", "2026-11-20")
FINAL = ("/art/2026/11/30/art_1229399350_5512001.html",
         "关于公布2026年浙江省中小企业特色产业集群（第二批）名单的通知", "2026-11-30")


def page(title: str, date: str, rows: list[tuple[str, str]], body: str) -> str:
    trs = "".join(f"<tr><td><p><span>{i}</span></p></td><td><p><span>{place}</span></p></td>"
                  f"<td><p><span>{name}</span></p></td></tr>" for i, (place, name) in enumerate(rows, 1))
    return f"""<html><head><meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="{date} 09:00">
<meta name="ContentSource" content="浙江省经济和信息化厅"></head><body><div id="zoom">
<p><span>{body}</span></p><p><span>附件</span></p>
<table><tr><td><p><span>序号</span></p></td><td><p><span>所在地</span></p></td><td><p><span>集群名称</span></p></td></tr>
{trs}<tr><td></td><td></td><td></td></tr></table>
<p><span>浙江省经济和信息化厅</span></p><p><span>{date[:4]}年{int(date[5:7])}月{int(date[8:])}日</span></p></div></body></html>"""


NOTICE_ROWS = [("嘉兴市平湖市", "光机电（精密光学元件）"), ("嘉兴市海宁市", "经编（高端经编面料）"),
               ("杭州市萧山区", "汽车零部件（智能底盘）"), ("温州市乐清市", "电气（智能低压电器）")]
FINAL_ROWS = [("嘉兴市平湖市", "光机电（精密光学元件）"), ("嘉兴市海宁市", "经编（高端经编面料）"),
              ("杭州市萧山区", "汽车零部件（智能底盘）"), ("嘉兴市桐乡市", "化纤（差别化纤维）")]


def settings_for(tmp_path: Path, site: FixtureServer) -> config.Settings:
    p = tmp_path / "cw.toml"
    p.write_text(f'''database = "cw.db"
[politeness]
delay = 0
[[sources]]
name = "jxj"
url = "{site.url(LIST)}"
[sources.selectors]
item = "ul.news-list > li"
date = "span.date"
[[subscribers]]
name = "desk"
[[subscribers.channels]]
kind = "console"
''', encoding="utf-8")
    return config.load(p, environ=dict(os.environ))


def test_notice_then_final_list(tmp_path: Path, site: FixtureServer) -> None:
    serve(site, ITEMS[1:])
    s = settings_for(tmp_path, site)
    db = open_db(s.database)
    asyncio.run(run_once(s, db, force=True))  # baseline
    site.routes[LIST] = Resp(200, list_page([NOTICE, *ITEMS[1:]]))
    site.routes[NOTICE[0]] = Resp(200, page(NOTICE[1], NOTICE[2], NOTICE_ROWS,
                                            "经地方推荐、专家评审，拟认定以下4个集群，现予以公示。公示时间：2026年11月20日至11月26日。"))
    asyncio.run(run_once(s, db, force=True))
    types = [r[0] for r in db.execute("select type from events order by id")]
    assert types == ["announcement.new", "new_batch", "selections_added"]
    batch = db.execute("select key, program, level, year, batch, notice_date, final_date from batches "
                       "where program = 'sme-cluster'").fetchall()
    assert len(batch) == 1 and batch[0][1:] == ("sme-cluster", "provincial", 2026, 2, "2026-11-20", None)
    sel = db.execute("select name, region, city, role from selections order by row").fetchall()
    # names keep their place prefix when the list gives the place in its own column (嘉兴市平湖市光机电(…))
    assert [r[0] for r in sel] == ["嘉兴市平湖市光机电(精密光学元件)", "嘉兴市海宁市经编(高端经编面料)",
                                   "杭州市萧山区汽车零部件(智能底盘)", "温州市乐清市电气(智能低压电器)"]
    assert [(r[1], r[2]) for r in sel] == [("平湖市", "嘉兴市"), ("海宁市", "嘉兴市"), ("萧山区", "杭州市"),
                                           ("乐清市", "温州市")]

    site.routes[LIST] = Resp(200, list_page([FINAL, NOTICE, *ITEMS[1:]]))
    site.routes[FINAL[0]] = Resp(200, page(FINAL[1], FINAL[2], FINAL_ROWS,
                                           "经地方推荐、专家评审、网上公示等程序，确定以下4个集群，现予以公布。"))
    asyncio.run(run_once(s, db, force=True))
    types = [r[0] for r in db.execute("select type from events order by id")][3:]
    assert types == ["announcement.new", "stage_advanced", "selections_added", "list_changed"]
    final_stage = db.execute("select stage from announcements where url like ?", ["%5512001%"]).fetchone()[0]
    assert final_stage == "final"  # the body's 公示 never downgrades a final notice
    changed = json.loads(db.execute("select payload from events where type = 'list_changed'").fetchone()[0])
    assert changed["added"] == ["嘉兴市桐乡市化纤(差别化纤维)"] and changed["removed"] == ["温州市乐清市电气(智能低压电器)"]
    added = json.loads(db.execute("select payload from events where type = 'selections_added' order by id desc")
                       .fetchone()[0])
    assert [(e["region"], e["city"]) for e in added["entities"]] == [("桐乡市", "嘉兴市")]
    assert added["program"] == "sme-cluster" and added["stage"] == "final" and added["batch"] == 2
    row = db.execute("select notice_date, final_date from batches where program = 'sme-cluster'").fetchone()
    assert row == ("2026-11-20", "2026-11-30")
    hits = db.execute("select count(*) from search_index where search_index match '平湖市'").fetchone()[0]
    assert hits >= 2  # both announcements' bodies
