"""A matrix of subscribers x events: each filter type, alone and combined, receives exactly what it should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import config
from config.regions import load_regions
from notifier.routing import plan
from scraper.models import Event
from tests.conftest import LOOPBACK_ALLOW

SUBSCRIBERS = {
    "everything": "",
    "jiaxing": 'regions = ["嘉兴市"]',
    "pinghu": 'regions = ["平湖市"]',
    "clusters": 'programs = ["sme-cluster"]',
    "finals": 'stages = ["final"]',
    "national": 'levels = ["national"]',
    "giants-in-jiaxing": 'programs = ["little-giant"]\nregions = ["嘉兴市"]',
    "my-company": 'entities = ["浙江精工光学"]',
    "keyword": 'keywords = ["纺织"]',
    "batches": 'event_types = ["new_batch", "stage_advanced"]',
}


def ev(key: str, type_: str = "announcement.new", **payload: object) -> Event:
    return Event(key=key, type=type_, source="s", announcement_key=key, payload=payload)


EVENTS = {
    # a provincial cluster final list with a Pinghu cluster
    "zj-cluster-final": ev("e1", program="sme-cluster", level="provincial", stage="final", region="浙江省",
                           title="关于公布2026年浙江省中小企业特色产业集群（第二批）名单的通知",
                           entities=[{"name": "平湖市光机电(精密光学元件)", "region": "平湖市", "city": "嘉兴市"},
                                     {"name": "柯桥区现代纺织", "region": "柯桥区", "city": "绍兴市"}]),
    # a national little-giant notice with a Haining firm
    "giants-notice": ev("e2", program="little-giant", level="national", stage="notice", region=None,
                        title="关于第七批专精特新“小巨人”企业名单的公示",
                        entities=[{"name": "浙江某某股份有限公司", "region": "海宁市", "city": "嘉兴市"}]),
    # a Hangzhou municipal list that names our company
    "hz-list": ev("e3", program="specialized-sme", level="municipal", stage="final", region="杭州市",
                  title="关于公布2026年杭州市专精特新中小企业名单的通知",
                  entities=[{"name": "杭州浙江精工光学有限公司", "region": "余杭区", "city": "杭州市"}]),
    # a new batch event (opt-in type)
    "new-batch": ev("e4", "new_batch", program="sme-cluster", level="provincial", stage="notice", region="浙江省",
                    title="关于2026年浙江省中小企业特色产业集群（第二批）拟认定名单的公示", entities=[]),
    # an operator alert
    "failing": ev("e5", "source.failing", source="s", title="source s is failing"),
}

EXPECTED = {
    "everything": {"zj-cluster-final", "giants-notice", "hz-list"},
    "jiaxing": {"zj-cluster-final", "giants-notice"},
    "pinghu": {"zj-cluster-final"},
    "clusters": {"zj-cluster-final"},
    "finals": {"zj-cluster-final", "hz-list"},
    "national": {"giants-notice"},
    "giants-in-jiaxing": {"giants-notice"},
    "my-company": {"hz-list"},
    "keyword": {"zj-cluster-final"},
    "batches": {"new-batch"},
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> config.Settings:
    text = ""
    for name, filters in SUBSCRIBERS.items():
        text += f'[[subscribers]]\nname = "{name}"\n'
        if filters:
            text += "[subscribers.filters]\n" + filters + "\n"
        text += '[[subscribers.channels]]\nkind = "console"\n'
    text += '[[subscribers]]\nname = "ops"\noperator = true\n[subscribers.filters]\nregions = ["温州市"]\n' \
            '[[subscribers.channels]]\nkind = "console"\n'
    path = tmp_path_factory.mktemp("subs") / "cw.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(path, environ={})


def test_each_subscriber_gets_exactly_its_events(settings: config.Settings) -> None:
    events = list(EVENTS.values())
    keys = {e.key: name for name, e in EVENTS.items()}
    planned = plan(events, settings.subscribers, regions=load_regions())
    got: dict[str, set[str]] = {}
    for p in planned:
        got.setdefault(p.subscriber, set()).add(keys[p.event_key])
    for name, want in EXPECTED.items():
        assert got.get(name, set()) == want, name
    # operators get service alerts whatever their announcement filters say, and announcements by filter
    assert got["ops"] == {"failing"}


def test_region_containment_needs_the_region_table(settings: config.Settings) -> None:
    jiaxing = [s for s in settings.subscribers if s.name == "jiaxing"]
    issued_in_pinghu = ev("e9", program="small-micro-park", level="county", stage="notice", region="平湖市",
                          title="关于2026年平湖市小微企业园星级拟评定结果的公示", entities=[])
    assert plan([issued_in_pinghu], jiaxing) == []  # without the table 平湖市 is not literally 嘉兴市...
    assert len(plan([issued_in_pinghu], jiaxing, regions=load_regions())) == 1  # ...but it lies in it


@pytest.mark.parametrize("filters, problem", [
    ('programs = ["no-such"]', "subscribers[0].filters.programs[0]: unknown program 'no-such'"),
    ('levels = ["galactic"]', "subscribers[0].filters.levels[0]: unknown level 'galactic'"),
    ('stages = ["maybe"]', "subscribers[0].filters.stages[0]: unknown stage 'maybe'"),
])
def test_unknown_filter_values_are_config_errors(tmp_path: Path, filters: str, problem: str) -> None:
    path = tmp_path / "cw.toml"
    path.write_text(f'[[subscribers]]\nname = "x"\n[subscribers.filters]\n{filters}\n'
                    '[[subscribers.channels]]\nkind = "console"\n', encoding="utf-8")
    with pytest.raises(config.ConfigError) as e:
        config.load(path, environ={})
    assert problem in str(e.value)


def test_subject_counts_the_subscribers_region_and_lists_it_first() -> None:
    from notifier.render import render

    payload = {
        "title": "关于公布2026年浙江省中小企业特色产业集群（第二批）名单的通知", "url": "https://jxt.zj.gov.cn/a.html",
        "program": "sme-cluster", "program_name": "中小企业特色产业集群", "region": "浙江省", "stage": "final",
        "batch": 2, "year": 2026, "level": "provincial",
        "entities": [{"name": "杭州市萧山区汽车零部件", "region": "萧山区", "city": "杭州市"},
                     {"name": "嘉兴市平湖市光机电", "region": "平湖市", "city": "嘉兴市"},
                     {"name": "温州市乐清市电气", "region": "乐清市", "city": "温州市"},
                     {"name": "嘉兴市海宁市经编", "region": "海宁市", "city": "嘉兴市"},
                     {"name": "嘉兴市桐乡市化纤", "region": "桐乡市", "city": "嘉兴市"}],
    }
    m = render(key="msg_" + "0" * 32, event_type="announcement.new", event_key="e", created_at="2026-11-30T00:00:00Z",
               payload=payload, focus=("嘉兴市",), regions=load_regions())
    assert m.subject == "[clusterwatch] 浙江省中小企业特色产业集群 第二批 公布 — 嘉兴市 3"
    listed = [line for line in m.text.splitlines() if line.startswith("- ")]
    assert [x.split()[1] for x in listed[:3]] == ["嘉兴市平湖市光机电", "嘉兴市海宁市经编", "嘉兴市桐乡市化纤"]
    plain = render(key="msg_" + "0" * 32, event_type="announcement.new", event_key="e",
                   created_at="2026-11-30T00:00:00Z", payload=payload)
    assert plain.subject == "[clusterwatch] 浙江省中小企业特色产业集群 第二批 公布"


def test_list_unsubscribe_header(tmp_path: Path) -> None:
    import asyncio

    from config import Smtp
    from notifier.base import Target
    from notifier.email import EmailNotifier
    from notifier.render import render
    from tests.servers.smtp import SmtpServer

    sink = SmtpServer().start()
    try:
        m = render(key="msg_" + "1" * 32, event_type="announcement.new", event_key="e",
                   created_at="2026-11-30T00:00:00Z", payload={"title": "标题", "url": "https://a.example.org/"})
        import dataclasses
        m = dataclasses.replace(m, list_unsubscribe="mailto:admin@example.org?subject=unsubscribe")
        asyncio.run(EmailNotifier(Smtp(host="127.0.0.1", port=sink.port, security="plain", timeout=5))
                    .send(Target(kind="email", address="a@example.org"), m))
    finally:
        sink.stop()
    assert sink.messages[0]["List-Unsubscribe"] == "<mailto:admin@example.org?subject=unsubscribe>"


def test_subscribers_command_lists_filters_and_channels_without_secrets(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scraper.cli import main

    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    path = tmp_path / "cw.toml"
    path.write_text('''[[subscribers]]
name = "jiaxing-desk"
mode = "digest"
digest_at = "08:30"
[subscribers.filters]
regions = ["嘉兴市"]
programs = ["sme-cluster"]
[[subscribers.channels]]
kind = "webhook"
url = "https://hooks.example.org/cw"
secret_env = "HOOK"
''', encoding="utf-8")
    res = CliRunner().invoke(main, ["subscribers", "--config", str(path)], env={"HOOK": secret})
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[:4] == ["jiaxing-desk: digest at 08:30 Asia/Shanghai", "  programs: sme-cluster",
                                           "  regions: 嘉兴市",
                                           "  -> webhook [webhook] https://hooks.example.org/cw (signed)"]
    assert secret not in res.output
    res = CliRunner().invoke(main, ["subscribers", "--config", str(path), "--json"], env={"HOOK": secret})
    assert json.loads(res.output)[0]["filters"] == {"programs": ["sme-cluster"], "regions": ["嘉兴市"]}


def test_deliveries_command_lists_and_requeues(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from db import open_db
    from db.store import commit_check, sync_sources
    from notifier.routing import plan as plan_
    from scraper.cli import main
    from scraper.models import Announcement

    path = tmp_path / "cw.toml"
    path.write_text('database = "cw.db"\n[[subscribers]]\nname = "me"\n[[subscribers.channels]]\nkind = "console"\n',
                    encoding="utf-8")
    s = config.load(path, environ={})
    db = open_db(s.database)
    sync_sources(db, [("src", "http://a.example.org/", "static")], "2026-11-30T00:00:00Z")
    a = Announcement(key="k1", source="src", url="http://a.example.org/1.html", title="关于公布名单的通知",
                     pub_date="2026-11-30", content_hash="h")
    e = ev("announcement.new:k1", title=a.title)
    e = Event(key=e.key, type=e.type, source="src", announcement_key="k1", payload=e.payload)
    commit_check(db, source="src", now="2026-11-30T00:00:00Z", seen_keys=[], announcements=[a], events=[e],
                 deliveries=plan_([e], s.subscribers), baseline=False, etag=None, last_modified=None, outcome="new")
    db.execute("update deliveries set status = 'dead', attempts = 20, last_error = 'gave up'")
    runner = CliRunner()
    out = runner.invoke(main, ["deliveries", "--status", "dead", "--json", "--config", str(path)])
    rows = json.loads(out.output)
    assert [(r["status"], r["title"], r["last_error"]) for r in rows] == [("dead", "关于公布名单的通知", "gave up")]
    key = rows[0]["key"]
    out = runner.invoke(main, ["deliveries", "retry", "--dead", "--config", str(path)])
    assert out.exit_code == 0 and "1 deliveries requeued" in out.output
    assert db.execute("select status, attempts, key from deliveries").fetchone() == ("pending", 0, key)
    out = runner.invoke(main, ["deliveries", "retry", "--config", str(path)])
    assert out.exit_code == 2  # neither ids nor --dead


def test_notify_test_reports_each_channel(tmp_path: Path, smtp, receiver) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from scraper.cli import main
    from scraper.demo import free_port

    path = tmp_path / "cw.toml"
    path.write_text(LOOPBACK_ALLOW + f'''[smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "plain"
timeout = 5
[[subscribers]]
name = "desk"
[[subscribers.channels]]
kind = "email"
to = ["a@example.org"]
[[subscribers.channels]]
kind = "webhook"
url = "{receiver.url}"
secret_env = "TEST_WEBHOOK_SECRET"
[[subscribers.channels]]
kind = "webhook"
id = "dead-hook"
url = "http://127.0.0.1:{free_port()}/nobody"
secret_env = "TEST_WEBHOOK_SECRET"
''', encoding="utf-8")
    res = CliRunner().invoke(main, ["notify", "test", "desk", "--config", str(path)])
    assert res.exit_code == 1, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("ok   email:a@example.org: sent (msg_")
    assert lines[1].startswith("ok   webhook: sent (msg_")
    assert lines[2].startswith("FAIL dead-hook: webhook: ConnectError")
    assert len(smtp.messages) == 1 and "test message for desk" in smtp.messages[0]["Subject"]
    assert len(receiver.received) == 1 and receiver.received[0].verified
