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
from tests.conftest import LOOPBACK_ALLOW

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
network = {{ allow = ["127.0.0.0/8", "::1"] }}
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


def test_an_english_report_is_understood() -> None:
    from config import Settings
    from scraper.analyse import analyse, knowledge
    from scraper.archive import Archive
    from scraper.diff import announcement
    from scraper.models import Detail, ListItem

    title = ("The first batch of provincial small and medium-sized industrial clusters announced that "
             "3 industrial clusters in our city were selected")
    body = ("Jiashan County was selected as the core area for digital security and network communication "
            "industry clusters, while Pinghu City was chosen as the core area for robot and CNC machine tool "
            "industry clusters.")
    detail = Detail(url="http://x.example.org/a.html", title=title, pub_date="2024-01-05", source=None,
                    column=None, body=body)
    a = announcement("s", "k", ListItem(detail.url, title), detail)
    k = knowledge(Settings(path=Path("x.toml"), database=Path("/tmp/x.db")))
    u, _ = analyse(a, detail, [], Archive(Path("/tmp")), k)
    c = u.classification
    assert (c.program, c.level, c.batch, c.stage) == ("sme-cluster", "provincial", 1, "final")
    got = [(e.name, e.region, e.city, e.category) for e in u.entities]
    assert got == [("digital security and network communication industry clusters", "嘉善县", "嘉兴市", "core area"),
                   ("robot and CNC machine tool industry clusters", "平湖市", "嘉兴市", "core area")]


def test_search_finds_chinese_text_of_two_or_more_characters(tmp_path: Path, site: FixtureServer) -> None:
    from db.store import search

    serve(site, ITEMS[1:])
    s = settings_for(tmp_path, site)
    db = open_db(s.database)
    asyncio.run(run_once(s, db, force=True))
    site.routes[LIST] = Resp(200, list_page([NOTICE, *ITEMS[1:]]))
    site.routes[NOTICE[0]] = Resp(200, page(NOTICE[1], NOTICE[2], NOTICE_ROWS, "现予以公示。"))
    asyncio.run(run_once(s, db, force=True))
    assert [r["title"] for r in search(db, "精密光学元件")] == [NOTICE[1]]  # an entity / body phrase
    assert [r["title"] for r in search(db, "拟认定名单")] == [NOTICE[1]]  # trigram over the title
    two = {r["title"] for r in search(db, "名单")}  # two characters: LIKE
    assert NOTICE[1] in two and "关于公布2026年嘉兴市专精特新中小企业名单的通知" in two
    assert search(db, "根本不存在的词") == [] and search(db, "%") == [] and search(db, "  ") == []
    assert {r[0] for r in db.execute("select key from programs")} >= {"sme-cluster", "little-giant"}


def test_classify_and_extract_commands(tmp_path: Path, site: FixtureServer, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from scraper.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLUSTERWATCH_CONFIG", raising=False)
    (tmp_path / "clusterwatch.toml").write_text(LOOPBACK_ALLOW, encoding="utf-8")  # the site is on loopback
    runner = CliRunner()
    res = runner.invoke(main, ["classify", "--json", FINAL[1], "工业和信息化部办公厅关于组织推荐2024年度中小企业特色产业集群的通知"])
    assert res.exit_code == 0, res.output
    first, second = [json.loads(line) for line in res.output.splitlines()]
    assert set(first) == {"program", "program_name", "level", "stage", "review", "batch", "year", "cohorts", "region"}
    assert (first["program"], first["stage"], first["batch"], first["year"]) == ("sme-cluster", "final", 2, 2026)
    assert (second["level"], second["stage"]) == ("national", "call")
    saved = tmp_path / "final.html"
    saved.write_text(page(FINAL[1], FINAL[2], FINAL_ROWS, "确定杭州市萧山区汽车零部件等4个集群，现予以公布。"),
                     encoding="utf-8")
    res = runner.invoke(main, ["extract", str(saved), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["classification"]["stage"] == "final" and len(report["entities"]) == 4
    assert [e["city"] for e in report["entities"]] == ["嘉兴市", "嘉兴市", "杭州市", "嘉兴市"]
    assert report["count_stated"] == 4 and report["count_problem"] is None
    site.routes["/art/final.html"] = Resp(200, saved.read_text(encoding="utf-8"))
    res = runner.invoke(main, ["extract", site.url("/art/final.html")])
    assert res.exit_code == 0, res.output
    assert "entities (4):" in res.output and "嘉兴市/桐乡市" in res.output


def test_a_count_mismatch_is_kept_and_shown_by_status(tmp_path: Path, site: FixtureServer) -> None:
    from click.testing import CliRunner

    from scraper.cli import main

    serve(site, ITEMS[1:])
    s = settings_for(tmp_path, site)
    db = open_db(s.database)
    asyncio.run(run_once(s, db, force=True))
    site.routes[LIST] = Resp(200, list_page([FINAL, *ITEMS[1:]]))
    site.routes[FINAL[0]] = Resp(200, page(FINAL[1], FINAL[2], FINAL_ROWS,
                                           "确定杭州市萧山区汽车零部件等5个集群，现予以公布。"))  # 5 stated, 4 listed
    asyncio.run(run_once(s, db, force=True))
    row = db.execute("select count_stated, count_found, count_problem from announcements where url like ?",
                     ["%5512001%"]).fetchone()
    assert row[:2] == (5, 4) and row[2]
    res = CliRunner().invoke(main, ["status", "--config", str(tmp_path / "cw.toml")])
    assert res.exit_code == 0, res.output
    assert f"jxj: list count mismatch: {FINAL[1]}: {row[2]}" in res.output
