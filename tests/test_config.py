"""Config validation: exact messages naming file, key path and problem."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import config
from config import ConfigError

ROOT = Path(__file__).resolve().parent.parent

BASE = '''
[[sources]]
name = "a"
url = "http://a.example.gov.cn/col/col1/index.html"
'''

EXAMPLE_ENV = {
    "CLUSTERWATCH_SMTP_PASSWORD": "hunter2-smtp-password",
    "CLUSTERWATCH_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> config.Settings:
    p = tmp_path / "cw.toml"
    p.write_text(text, encoding="utf-8")
    return config.load(p, environ=env or {})


def error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, text, env)
    msg = str(exc.value)
    assert msg.startswith(f"config error: {tmp_path / 'cw.toml'}: ")
    return msg.split(": ", 2)[2]


def test_example_config_loads_and_is_complete() -> None:
    settings = config.load(ROOT / "config" / "example.toml", environ=EXAMPLE_ENV)
    assert [s.name for s in settings.sources] == ["jiaxing-jxj-notices", "miit-cluster-watch", "pinghu-notices"]
    assert settings.sources[0].interval == 1800
    assert settings.sources[1].params == {"query": "特色产业集群"}
    assert settings.sources[2].cron == "*/30 8-20 * * mon-fri" and not settings.sources[2].enabled
    assert settings.smtp is not None and settings.smtp.password is not None
    assert settings.smtp.password.reveal() == "hunter2-smtp-password"
    assert settings.database == (ROOT / "config" / "clusterwatch.db")
    assert {c.kind for s in settings.subscribers for c in s.channels} == {
        "email", "webhook", "console", "dingtalk", "wecom", "feishu", "slack"}


def test_example_documents_every_setting() -> None:
    """Every field of every settings class appears in the example config."""
    import dataclasses

    text = (ROOT / "config" / "example.toml").read_text(encoding="utf-8")
    skip = {"path", "secrets", "password", "sender", "ids"}
    for cls in (config.Settings, config.Politeness, config.Delivery, config.Smtp, config.Source,
                config.Selectors, config.Filters, config.Channel, config.Subscriber):
        for f in dataclasses.fields(cls):
            if f.name in skip:
                continue
            assert f"{f.name} =" in text or f"[{f.name}]" in text or f"[[{f.name}]]" in text \
                or f"[sources.{f.name}]" in text or f"[subscribers.{f.name}]" in text \
                or f"[[subscribers.{f.name}]]" in text or f".{f.name}]" in text, \
                f"{cls.__name__}.{f.name} is not in example.toml"


def test_minimal_config_defaults(tmp_path: Path) -> None:
    s = load(tmp_path, BASE)
    src = s.sources[0]
    assert (src.kind, src.interval, src.baseline, src.selectors) == ("static", 1800, "silent", None)
    assert s.database == tmp_path / "clusterwatch.db"
    assert s.smtp is None and s.subscribers == ()


@pytest.mark.parametrize(
    "text, expected",
    [
        (BASE + '[[sources]]\nname = "b"\nurl = "ftp://x.example.org/"\n', "sources[1].url: not an http(s) URL"),
        (BASE + '[[sources]]\nname = "b"\nurl = "http://x.example.org/"\n[[sources]]\nname = "c"\nurl = "javascript:alert(1)"\n',
         "sources[2].url: not an http(s) URL"),
        ('[[sources]]\nurl = "http://x.example.org/"\n', "sources[0].name: is required"),
        ('[[sources]]\nname = "a"\n', "sources[0].url: is required"),
        (BASE + 'colour = "blue"\n', "sources[0].colour: unknown key"),
        ('databse = "x.db"\n', "databse: unknown key"),
        (BASE + 'kind = "wordpress"\n', "sources[0].kind: must be one of static, hanweb-jpage, hanweb-jpaas, miit-search, trs, feed, auto (got 'wordpress')"),
        (BASE + 'interval = "5s"\n', "sources[0].interval: must be at least 60 seconds"),
        (BASE + 'interval = "often"\n', "sources[0].interval: expected seconds or a duration such as '30m', '2h', '1d'"),
        (BASE + 'interval = 3600\ncron = "0 9 * * mon"\n', "sources[0].cron: set either interval or cron, not both"),
        (BASE + 'cron = "0 9 * * 1"\n', "sources[0].cron: day_of_week field '1': use weekday names (mon, tue, ... sun), not numbers"),
        (BASE + 'cron = "0 25 * * *"\n', "sources[0].cron: hour field '25': '25' is not in 0-23"),
        (BASE + 'cron = "0 9 * *"\n', "sources[0].cron: expected 5 fields (minute hour day month weekday), got 4"),
        (BASE + 'cron = "*/0 * * * *"\n', "sources[0].cron: minute field '*/0': bad step '0'"),
        (BASE + 'cron = "0 9 * * sun-mon"\n', "sources[0].cron: day_of_week field 'sun-mon': range 'sun-mon' runs backwards"),
        (BASE + '[[sources]]\nname = "b"\nurl = "http://[::1/x"\n', "sources[1].url: not a valid URL (Invalid IPv6 URL)"),
        (BASE + '[[sources]]\nname = "b"\nurl = "http://a.example.org:99999/"\n',
         "sources[1].url: not a valid URL (Port out of range 0-65535)"),
        (BASE + 'follow_details = "yes"\n', "sources[0].follow_details: expected a boolean, got a string"),
        (BASE + 'max_new_details = 0\n', "sources[0].max_new_details: must be greater than 0"),
        (BASE + '[sources.selectors]\nlink = ""\n', "sources[0].selectors.link: must not be empty"),
        (BASE + 'pages = 0\n', "sources[0].pages: must be between 1 and 50"),
        (BASE + '[sources.params]\nquery = "集群"\n', "sources[0].params.query: unknown parameter for the static adapter (known: none)"),
        (BASE + 'kind = "miit-search"\n[sources.params]\nq = "集群"\n',
         "sources[0].params.q: unknown parameter for the miit-search adapter (known: query, cateid, page_size, api)"),
        ('[health]\nshrink_ratio = 1.5\n', "health.shrink_ratio: must be at least 0 and below 1"),
        ('[tls.extra_ca]\n"www.pinghu.gov.cn" = "missing.pem"\n', "tls.extra_ca.www.pinghu.gov.cn: no such file: {tmp}/missing.pem"),
        (BASE + '[sources.selectors]\nitem = "//div/p"\n', "sources[0].selectors.item: '//div/p' looks like XPath; use a CSS selector"),
        (BASE + '[sources.selectors]\nitem = "li[title"\n', "sources[0].selectors.item: unbalanced brackets in CSS selector 'li[title'"),
        (BASE + '[[sources]]\nname = "a"\nurl = "http://b.example.org/"\n', "sources[1].name: duplicate name 'a'"),
        (BASE + '[politeness]\ndelay = -1\n', "politeness.delay: must not be negative"),
        (BASE + '[politeness]\nconcurrency = 0\n', "politeness.concurrency: must be greater than 0"),
        (BASE + '[politeness]\nspeed = 3\n', "politeness.speed: unknown key"),
        ('timezone = "Mars/Olympus"\n', "timezone: unknown time zone 'Mars/Olympus'"),
        ('[smtp]\nport = 25\n', "smtp.host: is required"),
        ('[smtp]\nhost = "h"\nsecurity = "tls"\n', "smtp.security: must be one of plain, starttls, ssl (got 'tls')"),
        ('[smtp]\nhost = "h"\nport = 70000\n', "smtp.port: must be between 1 and 65535"),
        ('[smtp]\nhost = "h"\nusername = "u"\npassword_env = "NOPE_NOT_SET"\n',
         "smtp.password_env: environment variable NOPE_NOT_SET is not set"),
        (BASE + '[[subscribers]]\nname = "s"\n', "subscribers[0].channels: at least one channel is required"),
        (BASE + '[[subscribers]]\nname = "s"\n[[subscribers.channels]]\nkind = "pager"\n',
         "subscribers[0].channels[0].kind: must be one of email, webhook, console, dingtalk, wecom, feishu, slack (got 'pager')"),
        (BASE + '[[subscribers]]\nname = "s"\n[[subscribers.channels]]\nkind = "email"\nto = ["not-an-address"]\n',
         "subscribers[0].channels[0].to[0]: not an email address: 'not-an-address'"),
        (BASE + '[[subscribers]]\nname = "s"\n[[subscribers.channels]]\nkind = "email"\nto = ["a@example.org"]\n',
         "smtp: is required when a subscriber has an email channel"),
        (BASE + '[[subscribers]]\nname = "s"\n[subscribers.filters]\nsources = ["zzz"]\n[[subscribers.channels]]\nkind = "console"\n',
         "subscribers[0].filters.sources[0]: no source named 'zzz'"),
        (BASE + '[[subscribers]]\nname = "s"\n[[subscribers.channels]]\nkind = "webhook"\nurl = "https://h.example.org/"\n',
         "subscribers[0].channels[0].secret_env: is required: the environment variable holding the whsec_ signing secret"),
        (BASE + '[[subscribers]]\nname = "s"\n[[subscribers.channels]]\nkind = "webhook"\nurl = "https://h.example.org/"\nsecret_env = "WH"\n',
         "subscribers[0].channels[0].secret_env: environment variable WH is not set"),
        ('sources = "a"\n', "sources: expected an array, got a string"),
        ('sources = ["a"]\n', "sources[0]: expected a table"),
    ],
)
def test_config_errors_name_the_key_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    assert error(tmp_path, text) == expected.replace("{tmp}", str(tmp_path))


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    msg = error(tmp_path, 'database = "x\n')
    assert msg.startswith("invalid TOML: ") and "line 1" in msg


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match=r"^config error: /nonexistent/cw.toml: file not found$"):
        config.load("/nonexistent/cw.toml", environ={})


def test_bad_webhook_secret_is_never_shown(tmp_path: Path) -> None:
    text = BASE + '[[subscribers]]\nname = "s"\n[[subscribers.channels]]\nkind = "webhook"\nurl = "https://h.example.org/"\nsecret_env = "WH"\n'
    msg = error(tmp_path, text, {"WH": "supersecretvalue-not-whsec"})
    assert msg == "subscribers[0].channels[0].secret_env: environment variable WH does not hold a whsec_ secret of 24-64 base64 bytes"
    assert "supersecretvalue" not in msg


def test_secrets_never_appear_in_reprs(tmp_path: Path) -> None:
    s = config.load(ROOT / "config" / "example.toml", environ=EXAMPLE_ENV)
    dumped = repr(s)
    for value in EXAMPLE_ENV.values():
        assert value not in dumped
    assert "CLUSTERWATCH_SMTP_PASSWORD" in dumped  # the variable's name is fine to show


def test_webhook_secret_rotation_reads_every_variable(tmp_path: Path) -> None:
    env = {"OLD": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "NEW": "whsec_" + "QUJD" * 8}
    text = BASE + '[[subscribers]]\nname = "s"\n[[subscribers.channels]]\nkind = "webhook"\nurl = "https://h.example.org/"\nsecret_env = ["NEW", "OLD"]\n'
    ch = load(tmp_path, text, env).subscribers[0].channels[0]
    assert [x.reveal() for x in ch.secrets] == [env["NEW"], env["OLD"]]


def test_config_check_command(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from scraper.cli import main

    runner = CliRunner()
    env = dict(os.environ, **EXAMPLE_ENV)
    ok = runner.invoke(main, ["config", "check", "--config", str(ROOT / "config" / "example.toml")], env=env)
    assert ok.exit_code == 0, ok.output
    assert "jiaxing-jxj-notices: static, every 1800s" in ok.output
    assert "pinghu-notices: static, cron '*/30 8-20 * * mon-fri' (disabled)" in ok.output
    assert "jiaxing-desk: email(2), webhook" in ok.output
    assert f"feeds: {ROOT / 'config' / 'feeds'} (50 entries per feed)" in ok.output
    for value in EXAMPLE_ENV.values():
        assert value not in ok.output
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE + '[[sources]]\nname = "b"\nurl = "nope"\n', encoding="utf-8")
    res = runner.invoke(main, ["config", "check", "--config", str(bad)])
    assert res.exit_code == 1
    assert f"config error: {bad}: sources[1].url: not an http(s) URL" in res.output


def test_default_sources_load_and_are_polite(tmp_path: Path) -> None:
    from config.loader import default_sources
    from scraper.parse import ADAPTERS

    sources = default_sources()
    names = [s.name for s in sources]
    assert {"zj-jxt-notices", "zj-jxt-public-notices", "jiaxing-jxj-notices", "pinghu-notices",
            "miit-cluster-watch"} <= set(names)
    for s in sources:
        assert s.kind in ADAPTERS
        assert s.interval is not None and s.interval >= 3600, s.name
    assert {s.params.get("query") for s in sources if s.kind == "miit-search"} >= {"特色产业集群", "专精特新"}
    text = (ROOT / "config" / "default_sources.toml").read_text(encoding="utf-8")
    assert text.count("UNCONFIRMED") >= 4  # what could not be checked offline is marked


def test_default_sources_are_included_and_can_be_overridden(tmp_path: Path) -> None:
    s = load(tmp_path, 'default_sources = true\n[[sources]]\nname = "pinghu-notices"\n'
                       'url = "http://www.pinghu.gov.cn/col/col999/index.html"\nkind = "static"\n')
    by_name = {x.name: x for x in s.sources}
    assert by_name["pinghu-notices"].url.endswith("col999/index.html")
    assert by_name["pinghu-notices"].kind == "static"
    assert "miit-cluster-watch" in by_name
    assert [x.name for x in s.sources].count("pinghu-notices") == 1
