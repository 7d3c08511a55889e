"""`clusterwatch check URL --adapter auto --json` on every fixture family, over loopback."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

import config
from scraper.cli import main
from scraper.fetch import Fetcher
from tests.conftest import LOOPBACK_ALLOW, PAGES
from tests.servers.http import FixtureServer, Resp
from tests.test_scraper_parse_jpaas import API, _api_route
from tests.test_scraper_parse_jpage import _proxy_route


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No config file: the built-in defaults, minus their 3 s politeness delay (kept fast here)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLUSTERWATCH_CONFIG", raising=False)
    # Only the SSRF guard's allow-list: the fixture site is on loopback, which is refused by default.
    (tmp_path / "clusterwatch.toml").write_text(LOOPBACK_ALLOW, encoding="utf-8")
    init = Fetcher.__init__

    def no_wait(self: Fetcher, politeness: config.Politeness, *args: object, **kwargs: object) -> None:
        init(self, dataclasses.replace(politeness, delay=0.0), *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Fetcher, "__init__", no_wait)
    return tmp_path


def check_auto(url: str, pages: int = 3) -> tuple[str, list[dict[str, str]]]:
    runner = CliRunner()
    table = runner.invoke(main, ["check", url, "--adapter", "auto", "--pages", str(pages)])
    assert table.exit_code == 0, table.output
    res = runner.invoke(main, ["check", url, "--adapter", "auto", "--json", "--pages", str(pages)])
    assert res.exit_code == 0, res.output
    return table.output.splitlines()[0], [json.loads(line) for line in res.output.splitlines()]


def test_auto_reads_a_hanweb_jpage_column_and_its_dataproxy_pages(site: FixtureServer, no_config: Path) -> None:
    column = "/col/col1659217/index.html"
    site.routes[column] = Resp(200, (PAGES / "jpage" / "jxt_column.html").read_text(encoding="utf-8"))
    site.routes["/module/jpage/dataproxy.jsp"] = _proxy_route({"2": "jxt_dataproxy_p2.xml",
                                                               "3": "jxt_dataproxy_p3.xml"})
    head, rows = check_auto(site.url(column))
    assert head.endswith("(adapter auto: hanweb-jpage)")
    inline = json.loads((PAGES / "jpage" / "jxt_column.expected.json").read_text(encoding="utf-8"))["items"]
    assert [r["title"] for r in rows[: len(inline)]] == [i["title"] for i in inline]
    proxied = [r for r in site.requests if "/module/jpage/dataproxy.jsp" in r.path]
    assert proxied and all(r.headers["x-requested-with"] == "XMLHttpRequest" for r in proxied)


def test_auto_reads_a_hanweb_jpaas_shell_through_build_unit(site: FixtureServer, no_config: Path) -> None:
    column = "/col/col1229629046/index.html"
    site.routes[column] = Resp(200, (PAGES / "jpaas" / "zj_shell.html").read_text(encoding="utf-8"))
    site.routes[API] = _api_route("zj_unit", "信息列表")
    head, rows = check_auto(site.url(column))
    assert head.endswith("(adapter auto: hanweb-jpaas)")
    want = json.loads((PAGES / "jpaas" / "zj_all.expected.json").read_text(encoding="utf-8"))
    assert [(urlsplit(r["url"]).path, r["title"]) for r in rows] == [(w["path"], w["title"]) for w in want][: len(rows)]
    assert len(rows) >= 5


def test_auto_reads_miit_search_json(site: FixtureServer, no_config: Path) -> None:
    api = "/search-front-server/api/search/info"
    site.routes[api] = Resp(200, (PAGES / "miit" / "search_p1.json").read_bytes(), content_type="application/json")
    head, rows = check_auto(site.url(api + "?websiteid=110000000000000&q=%E7%89%B9%E8%89%B2%E4%BA%A7%E4%B8%9A%E9%9B%86%E7%BE%A4&p=1&pg=3"),
                            pages=1)
    assert head.endswith("(adapter auto: miit-search)")
    want = json.loads((PAGES / "miit" / "search_p1.json").read_text(encoding="utf-8"))
    assert len(rows) == len(want["data"]["searchResult"]["dataResults"])
    assert all(r["url"].startswith(("http://", "https://")) and r["date"] and "<" not in r["title"] for r in rows)
