"""Chat group bots (DingTalk, WeCom, Feishu/Lark, Slack) against local receivers on 127.0.0.1.

Each receiver checks the request against the platform's documented format (keys, types, msgtype,
size limits), verifies DingTalk's and Feishu's signatures by recomputing them here from the
documented algorithm, and answers like the real service: ``{"errcode": …}`` / ``{"code": …}``
JSON, or Slack's plain ``ok``. See docs/chat.md.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

import config
import db as dbm
import notifier.dingtalk as dingtalk_mod
import notifier.feishu as feishu_mod
from db import outbox, store
from notifier import relay_once
from notifier.base import Message, Notifier, PermanentError, Target, TransientError
from notifier.chat import truncate_bytes
from notifier.dingtalk import DingTalkNotifier
from notifier.feishu import FeishuNotifier
from notifier.render import render
from notifier.routing import plan
from notifier.slack import SlackNotifier
from notifier.wecom import WeComNotifier
from scraper.demo import free_port
from scraper.diff import event_for, item_key
from scraper.models import Announcement
from scraper.timeutil import iso, utcnow
from tests.conftest import LOOPBACK, LOOPBACK_ALLOW

PLATFORMS = ("dingtalk", "wecom", "feishu", "slack")
NOTIFIERS: dict[str, type[Notifier]] = {"dingtalk": DingTalkNotifier, "wecom": WeComNotifier,
                                       "feishu": FeishuNotifier, "slack": SlackNotifier}
TOKENS = {"dingtalk": "dt0123456789abcdef0123456789abcdef", "wecom": "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
          "feishu": "fs-2f1c0d7e-8a1b-4c2d-9e3f-0a1b2c3d4e5f", "slack": "XXXXXXXXXXXXXXXXXXXXXXXX"}
DT_SECRET = "SEC0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff"
FS_SECRET = "fsSecret9xYzQwErTy"
LINK = "http://example.invalid/art/2026/3/1/art_1_1.html"
TITLE = "关于公布2026年度浙江省专精特新中小企业名单（第二批）的通知"
INJECTION = ('[点我](http://evil.example) ![x](http://evil/x.png) @all <!channel> <http://evil|x> '
             '<at user_id="all">所有人</at> <@U024BE7LH> <font color="warning">x</font> **粗** `c`')


# --- what each platform documents, checked by the receivers ------------------------------------------------------


def _dingtalk_sign(secret: str, ts: str) -> str:
    """DingTalk: base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}")), then URL-encoded."""
    return base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode()


def _feishu_sign(secret: str, ts: str) -> str:
    """Feishu: base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg=""))."""
    return base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


@dataclass
class Req:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    problems: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)


def _json_body(req: Req) -> dict[str, Any] | None:
    if not req.headers.get("content-type", "").startswith("application/json"):
        req.problems.append(f"content-type {req.headers.get('content-type')!r}")
    try:
        data = json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        req.problems.append(f"body is not UTF-8 JSON: {e}")
        return None
    if not isinstance(data, dict):
        req.problems.append("body is not a JSON object")
        return None
    return data


def _fresh(ts: str, now: float, scale: int) -> bool:
    return ts.isdigit() and abs(int(ts) / scale - now) <= 3600


def check_dingtalk(req: Req, r: "ChatReceiver") -> tuple[int, bytes]:
    q = parse_qs(req.query)
    if req.path != "/robot/send" or q.get("access_token") != [TOKENS["dingtalk"]]:
        req.problems.append("unknown robot")
        return 200, b'{"errcode":300001,"errmsg":"token is not exist"}'
    if r.secret is not None:
        ts, sign = (q.get("timestamp") or [""])[0], (q.get("sign") or [""])[0]
        if not _fresh(ts, r.now(), 1000) or not hmac.compare_digest(sign, _dingtalk_sign(r.secret, ts)):
            req.problems.append(f"bad signature: timestamp={ts!r} sign={sign!r}")
            return 200, b'{"errcode":310000,"errmsg":"sign not match, more: [https://ding-doc.dingtalk.com]"}'
    data = _json_body(req)
    md = (data or {}).get("markdown")
    if data is None or data.get("msgtype") != "markdown" or not isinstance(md, dict):
        req.problems.append(f"not a markdown message: {data!r:.200}")
        return 200, b'{"errcode":40035,"errmsg":"\\u7f3a\\u5c11\\u53c2\\u6570 msgtype"}'
    for k in ("title", "text"):
        if not isinstance(md.get(k), str) or not md[k].strip():
            req.problems.append(f"markdown.{k} missing or empty")
    if len(str(md.get("text")).encode()) > 20000:
        req.problems.append("markdown.text over 20000 bytes")
    at = data.get("at", {})
    if not isinstance(at, dict) or at.get("isAtAll") not in (None, False) or at.get("atMobiles") or at.get("atUserIds"):
        req.problems.append(f"mentions someone: {at!r}")
    return (200, b'{"errcode":40035,"errmsg":"bad markdown"}') if req.problems else (200, b'{"errcode":0,"errmsg":"ok"}')


def check_wecom(req: Req, r: "ChatReceiver") -> tuple[int, bytes]:
    if req.path != "/cgi-bin/webhook/send" or parse_qs(req.query).get("key") != [TOKENS["wecom"]]:
        req.problems.append("unknown robot")
        return 200, b'{"errcode":93000,"errmsg":"invalid webhook url"}'
    data = _json_body(req)
    md = (data or {}).get("markdown")
    if data is None or data.get("msgtype") != "markdown" or not isinstance(md, dict) \
            or not isinstance(md.get("content"), str):
        req.problems.append(f"not a markdown message: {data!r:.200}")
        return 200, b'{"errcode":40008,"errmsg":"invalid message type"}'
    if not md["content"].strip():
        req.problems.append("empty content")
        return 200, b'{"errcode":44004,"errmsg":"empty content"}'
    if len(md["content"].encode("utf-8")) > 4096:
        req.problems.append(f"content is {len(md['content'].encode())} bytes, over 4096")
        return 200, b'{"errcode":40058,"errmsg":"markdown.content exceed max length 4096"}'
    return 200, b'{"errcode":0,"errmsg":"ok"}'


_FEISHU_TAGS = {"text", "a", "at", "img", "media", "emotion", "hr", "code_block", "md"}


def check_feishu(req: Req, r: "ChatReceiver") -> tuple[int, bytes]:
    bad = (400, b'{"code":9499,"msg":"Bad Request","data":{}}')
    if req.path != f"/open-apis/bot/v2/hook/{TOKENS['feishu']}":
        req.problems.append("unknown bot")
        return 200, b'{"code":19001,"data":{},"msg":"param invalid: incoming webhook access token invalid"}'
    if len(req.body) > 20 * 1024:
        req.problems.append(f"body is {len(req.body)} bytes, over 20 KB")
        return bad
    data = _json_body(req)
    if data is None:
        return bad
    if r.secret is not None:
        ts, sign = data.get("timestamp"), data.get("sign")
        if not isinstance(ts, str) or not isinstance(sign, str) or not _fresh(ts, r.now(), 1) \
                or not hmac.compare_digest(sign, _feishu_sign(r.secret, ts)):
            req.problems.append(f"bad signature: timestamp={ts!r} sign={sign!r}")
            return 200, b'{"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour"}'
    elif "sign" in data or "timestamp" in data:
        req.problems.append("signed although the bot has no secret")
    kind, content = data.get("msg_type"), data.get("content")
    if kind == "text":
        if not isinstance(content, dict) or not isinstance(content.get("text"), str):
            req.problems.append("text message without content.text")
    elif kind == "post":
        langs = content.get("post") if isinstance(content, dict) else None
        if not isinstance(langs, dict) or not langs:
            req.problems.append("post without content.post.<lang>")
        for lang, post in (langs or {}).items():
            if not isinstance(post, dict) or not isinstance(post.get("title", ""), str) \
                    or not isinstance(post.get("content"), list):
                req.problems.append(f"post.{lang} malformed")
                continue
            for para in post["content"]:
                if not isinstance(para, list):
                    req.problems.append("a paragraph is not a list")
                    continue
                for el in para:
                    if not isinstance(el, dict) or el.get("tag") not in _FEISHU_TAGS:
                        req.problems.append(f"unknown element {el!r:.100}")
                    elif el["tag"] == "text" and not isinstance(el.get("text"), str):
                        req.problems.append("text element without text")
                    elif el["tag"] == "a" and not (isinstance(el.get("href"), str)
                                                   and urlsplit(el["href"]).scheme in ("http", "https")):
                        req.problems.append(f"a element with href {el.get('href')!r}")
    else:
        req.problems.append(f"msg_type {kind!r}")
    return bad if req.problems else (200, b'{"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"}')


_SLACK_BLOCKS = {"section", "context", "divider", "header", "actions", "image", "rich_text"}


def check_slack(req: Req, r: "ChatReceiver") -> tuple[int, bytes]:
    if not req.path.startswith("/services/") or not req.path.endswith("/" + TOKENS["slack"]):
        req.problems.append("unknown webhook")
        return 404, b"no_service"
    data = _json_body(req)
    if data is None:
        return 400, b"invalid_payload"
    text, blocks = data.get("text"), data.get("blocks")
    if not (isinstance(text, str) and text.strip()) and not blocks:
        req.problems.append("neither text nor blocks")
    if text is not None and (not isinstance(text, str) or len(text) > 40000):
        req.problems.append("text is not a string of at most 40000 characters")
    if blocks is not None:
        if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
            req.problems.append("blocks must be a list of 1-50")
            blocks = []
        for b in blocks:
            if not isinstance(b, dict) or b.get("type") not in _SLACK_BLOCKS:
                req.problems.append(f"unknown block {b!r:.100}")
            elif b["type"] == "section":
                t = b.get("text")
                if not isinstance(t, dict) or t.get("type") not in ("mrkdwn", "plain_text") \
                        or not isinstance(t.get("text"), str) or not 0 < len(t["text"]) <= 3000:
                    req.problems.append(f"section text must be 1-3000 characters of mrkdwn/plain_text: {t!r:.100}")
            elif b["type"] == "context":
                els = b.get("elements")
                if not isinstance(els, list) or not 0 < len(els) <= 10:
                    req.problems.append("context needs 1-10 elements")
    return (400, b"invalid_blocks") if req.problems else (200, b"ok")


CHECKS: dict[str, Callable[[Req, "ChatReceiver"], tuple[int, bytes]]] = {
    "dingtalk": check_dingtalk, "wecom": check_wecom, "feishu": check_feishu, "slack": check_slack}


class ChatReceiver:
    """A fake group bot on 127.0.0.1: records requests, checks them, answers like the service.

    ``replies`` (status, headers, body) are used first, one per request; then the checker's answer.
    """

    def __init__(self, platform: str):
        self.platform = platform
        self.secret: str | None = None
        self.now: Callable[[], float] = time.time
        self.replies: list[tuple[int, dict[str, str], bytes]] = []
        self.received: list[Req] = []
        me = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                req = Req(parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()},
                          self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                status, body = CHECKS[me.platform](req, me)
                headers: dict[str, str] = {"Content-Type": "text/plain" if me.platform == "slack" else "application/json"}
                if me.replies:
                    status, extra, body = me.replies.pop(0)
                    headers.update(extra)
                me.received.append(req)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return {"dingtalk": f"{self.base}/robot/send?access_token={TOKENS['dingtalk']}",
                "wecom": f"{self.base}/cgi-bin/webhook/send?key={TOKENS['wecom']}",
                "feishu": f"{self.base}/open-apis/bot/v2/hook/{TOKENS['feishu']}",
                "slack": f"{self.base}/services/T00000000/B00000000/{TOKENS['slack']}"}[self.platform]

    def reset(self) -> None:
        self.secret, self.now, self.replies, self.received = None, time.time, [], []

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def _receivers() -> Iterator[dict[str, ChatReceiver]]:
    rs = {p: ChatReceiver(p) for p in PLATFORMS}
    yield rs
    for r in rs.values():
        r.close()


@pytest.fixture
def bots(_receivers: dict[str, ChatReceiver]) -> dict[str, ChatReceiver]:
    for r in _receivers.values():
        r.reset()
    return _receivers


# --- helpers --------------------------------------------------------------------------------------------------


def message(title: str = TITLE, **extra: Any) -> Message:
    payload = {"source": "jx", "url": LINK, "title": title, "pub_date": "2026-03-01", "issuer": "嘉兴市经信局",
               "excerpt": "各市、县（市、区）经信局：\n现将名单公布如下。", "attachments": [], **extra}
    return render(key="msg_" + "0" * 32, event_type="announcement.new", event_key="announcement.new:x",
                  created_at="2026-03-01T00:00:00Z", payload=payload)


def target(platform: str, bot: ChatReceiver, secret: str | None = None) -> Target:
    if secret is not None:
        bot.secret = secret
    return Target(kind=platform, url=bot.url, secrets=(secret,) if secret else ())


def send(platform: str, t: Target, m: Message) -> None:
    async def go() -> None:
        n = NOTIFIERS[platform](timeout=2.0, network=LOOPBACK)
        try:
            await n.send(t, m)
        finally:
            await n.aclose()

    asyncio.run(go())


def fails(platform: str, t: Target, m: Message) -> TransientError | PermanentError:
    with pytest.raises((TransientError, PermanentError)) as info:
        send(platform, t, m)
    return info.value  # type: ignore[return-value]


def strings(x: Any) -> list[str]:
    """Every string value in a decoded JSON body."""
    if isinstance(x, str):
        return [x]
    if isinstance(x, dict):
        return [s for v in x.values() for s in strings(v)]
    if isinstance(x, list):
        return [s for v in x for s in strings(v)]
    return []


def shown_text(platform: str, req: Req) -> str:
    """What the group sees, as one string."""
    d = req.json()
    if platform == "dingtalk":
        return d["markdown"]["title"] + "\n" + d["markdown"]["text"]
    if platform == "wecom":
        return d["markdown"]["content"]
    if platform == "feishu":
        post = d["content"]["post"]["zh_cn"]
        return post["title"] + "\n" + "\n".join(el.get("text", "") for para in post["content"] for el in para)
    return d["text"] + "\n" + "\n".join(strings(d["blocks"]))


def secret_for(platform: str) -> str | None:
    return {"dingtalk": DT_SECRET, "feishu": FS_SECRET}.get(platform)


# --- success, format, Chinese text -------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_success_is_one_well_formed_message_with_chinese_intact(platform: str, bots: dict[str, ChatReceiver]) -> None:
    bot = bots[platform]
    send(platform, target(platform, bot, secret_for(platform)), message(entities=[
        {"name": "平湖市某某精密光学有限公司", "city": "嘉兴市", "region": "平湖市"}]))
    [req] = bot.received
    assert req.problems == []
    assert req.headers["content-type"] == "application/json; charset=utf-8"
    text = shown_text(platform, req)
    assert TITLE in text
    assert "平湖市某某精密光学有限公司" in text and "嘉兴市经信局" in text
    assert TITLE.encode("utf-8") in req.body  # sent as UTF-8, not \\u escapes
    assert "\ufffd" not in text
    assert "clusterwatch" in text  # what a "custom keyword" security setting can match


def test_payload_shapes_are_the_documented_ones(bots: dict[str, ChatReceiver]) -> None:
    m = message()
    for p in PLATFORMS:
        send(p, target(p, bots[p]), m)
    dt, wc, fs, sl = (bots[p].received[0].json() for p in PLATFORMS)
    assert dt["msgtype"] == "markdown" and set(dt["markdown"]) == {"title", "text"}
    assert f"[Original page]({LINK})" in dt["markdown"]["text"]
    assert dt["at"] == {"isAtAll": False, "atMobiles": [], "atUserIds": []}
    assert wc == {"msgtype": "markdown", "markdown": {"content": wc["markdown"]["content"]}}
    assert f"[Original page]({LINK})" in wc["markdown"]["content"]
    assert fs["msg_type"] == "post" and "sign" not in fs and "timestamp" not in fs
    links = [el for para in fs["content"]["post"]["zh_cn"]["content"] for el in para if el["tag"] == "a"]
    assert links == [{"tag": "a", "text": "Original page", "href": LINK}]
    assert sl["blocks"][0]["type"] == "section" and sl["blocks"][0]["text"]["type"] == "mrkdwn"
    assert f"<{LINK}|Original page>" in sl["blocks"][0]["text"]["text"]
    assert f"<{LINK}|Original page>" in sl["text"]
    assert sl["unfurl_links"] is False


# --- signatures ---------------------------------------------------------------------------------------------------


class FixedTime:
    def __init__(self, t: float):
        self.t = t

    def time(self) -> float:
        return self.t


FIXED = 1772323200.25  # 2026-03-01T00:00:00.25Z


def test_dingtalk_signature_recomputed_from_the_documented_algorithm(
        bots: dict[str, ChatReceiver], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dingtalk_mod, "time", FixedTime(FIXED))
    bot = bots["dingtalk"]
    bot.now = lambda: FIXED
    send("dingtalk", target("dingtalk", bot, DT_SECRET), message())
    [req] = bot.received
    assert req.problems == []
    q = parse_qs(req.query)
    assert q["timestamp"] == ["1772323200250"]  # milliseconds
    assert q["access_token"] == [TOKENS["dingtalk"]]  # the bot's own query is kept
    expected = base64.b64encode(hmac.new(DT_SECRET.encode("utf-8"), f"1772323200250\n{DT_SECRET}".encode("utf-8"),
                                         hashlib.sha256).digest()).decode()
    assert q["sign"] == [expected]
    raw = dict(kv.split("=", 1) for kv in req.query.split("&"))["sign"]
    assert re.fullmatch(r"[A-Za-z0-9%]+", raw), raw  # '+', '/' and '=' are percent-encoded


def test_dingtalk_wrong_secret_is_refused_like_the_service(bots: dict[str, ChatReceiver]) -> None:
    bot = bots["dingtalk"]
    t = target("dingtalk", bot, DT_SECRET)
    bot.secret = DT_SECRET + "x"  # the robot was configured with another secret
    err = fails("dingtalk", t, message())
    assert isinstance(err, PermanentError) and "310000" in str(err)
    assert bot.received[0].problems


def test_feishu_signature_recomputed_from_the_documented_algorithm(
        bots: dict[str, ChatReceiver], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feishu_mod, "time", FixedTime(FIXED))
    bot = bots["feishu"]
    bot.now = lambda: FIXED
    send("feishu", target("feishu", bot, FS_SECRET), message())
    [req] = bot.received
    assert req.problems == []
    body = req.json()
    assert body["timestamp"] == "1772323200"  # seconds, as a string
    expected = base64.b64encode(hmac.new(f"1772323200\n{FS_SECRET}".encode("utf-8"), b"", hashlib.sha256).digest())
    assert body["sign"] == expected.decode()


def test_feishu_stale_timestamp_is_refused_like_the_service(bots: dict[str, ChatReceiver],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feishu_mod, "time", FixedTime(FIXED - 7200))  # two hours behind the service
    bot = bots["feishu"]
    bot.now = lambda: FIXED
    err = fails("feishu", target("feishu", bot, FS_SECRET), message())
    assert isinstance(err, PermanentError) and "19021" in str(err)


# --- platform error codes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform, status, reply, transient, retry_after", [
    ("dingtalk", 200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}, True, 600.0),
    ("dingtalk", 200, {"errcode": -1, "errmsg": "系统繁忙"}, True, None),
    ("dingtalk", 200, {"errcode": 310000, "errmsg": "keywords not in content"}, False, None),
    ("dingtalk", 200, {"errcode": 300001, "errmsg": "token is not exist"}, False, None),
    ("wecom", 200, {"errcode": 45009, "errmsg": "api freq out of limit"}, True, 60.0),
    ("wecom", 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, False, None),
    ("feishu", 200, {"code": 9499, "msg": "Bad Request", "data": {}}, True, None),
    ("feishu", 200, {"code": 11232, "msg": "frequency limited psm"}, True, 60.0),
    ("feishu", 400, {"code": 99991400, "msg": "request trigger frequency limit"}, True, 60.0),
    ("feishu", 200, {"code": 19021, "msg": "sign match fail"}, False, None),
    ("feishu", 200, {"code": 19024, "msg": "Key Words Not Found"}, False, None),
    ("feishu", 200, {"StatusCode": 19001, "StatusMessage": "param invalid"}, False, None),
])
def test_platform_error_codes(platform: str, status: int, reply: dict[str, Any], transient: bool,
                              retry_after: float | None, bots: dict[str, ChatReceiver]) -> None:
    bot = bots[platform]
    bot.replies = [(status, {}, json.dumps(reply, ensure_ascii=False).encode())]
    err = fails(platform, target(platform, bot), message())
    assert isinstance(err, TransientError if transient else PermanentError), err
    code = reply.get("errcode", reply.get("code", reply.get("StatusCode")))
    assert str(code) in str(err)
    if transient:
        assert err.retry_after == retry_after and not err.target_down  # type: ignore[union-attr]
    assert len(bot.received) == 1


@pytest.mark.parametrize("status, body, transient", [(404, b"no_service", False), (410, b"channel_is_archived", False),
                                                     (400, b"invalid_payload", False), (200, b"not ok", False),
                                                     (503, b"", True)])
def test_slack_replies(status: int, body: bytes, transient: bool, bots: dict[str, ChatReceiver]) -> None:
    bot = bots["slack"]
    bot.replies = [(status, {}, body)]
    err = fails("slack", target("slack", bot), message())
    assert isinstance(err, TransientError if transient else PermanentError), err
    assert (body.decode() or str(status)) in str(err)


def test_reply_that_is_not_the_services_json_is_a_failure(bots: dict[str, ChatReceiver]) -> None:
    bot = bots["wecom"]
    bot.replies = [(200, {}, b"<html>captive portal</html>")]
    assert isinstance(fails("wecom", target("wecom", bot), message()), PermanentError)


# --- HTTP statuses and transport, every platform -------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_429_with_retry_after_is_transient(platform: str, bots: dict[str, ChatReceiver]) -> None:
    bot = bots[platform]
    bot.replies = [(429, {"Retry-After": "120"}, b"rate_limited")]
    err = fails(platform, target(platform, bot), message())
    assert isinstance(err, TransientError) and "429" in str(err)
    assert err.retry_after == 120.0 and not err.target_down


@pytest.mark.parametrize("platform", PLATFORMS)
def test_500_is_transient(platform: str, bots: dict[str, ChatReceiver]) -> None:
    bot = bots[platform]
    bot.replies = [(500, {}, b"")]
    err = fails(platform, target(platform, bot), message())
    assert isinstance(err, TransientError) and "500" in str(err) and not err.target_down


@pytest.mark.parametrize("platform", PLATFORMS)
def test_302_is_not_followed_and_is_a_failure(platform: str, bots: dict[str, ChatReceiver]) -> None:
    bot = bots[platform]
    bot.replies = [(302, {"Location": f"{bot.base}/elsewhere"}, b"")]
    err = fails(platform, target(platform, bot), message())
    assert isinstance(err, TransientError) and "302" in str(err)
    assert len(bot.received) == 1 and bot.received[0].path != "/elsewhere"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_connection_refused_is_target_down_and_the_token_is_not_leaked(platform: str) -> None:
    url = f"http://127.0.0.1:{free_port()}/robot/send?access_token={TOKENS[platform]}"
    secret = secret_for(platform)
    err = fails(platform, Target(kind=platform, url=url, secrets=(secret,) if secret else ()), message())
    assert isinstance(err, TransientError) and err.target_down
    assert TOKENS[platform] not in str(err) and (secret or "\0") not in str(err)


@pytest.mark.parametrize("platform", ["dingtalk", "wecom", "feishu"])
def test_a_reply_echoing_the_token_is_redacted(platform: str, bots: dict[str, ChatReceiver]) -> None:
    bot = bots[platform]
    key = "errcode" if platform != "feishu" else "code"
    bot.replies = [(200, {}, json.dumps({key: 400013, "errmsg": f"bad token {TOKENS[platform]} for {bot.url}",
                                         "msg": f"bad token {TOKENS[platform]}"}).encode())]
    err = fails(platform, target(platform, bot, secret_for(platform)), message())
    assert isinstance(err, PermanentError) and "400013" in str(err)
    assert TOKENS[platform] not in str(err)


# --- untrusted scraped text --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_markdown_injection_in_a_title_is_neutralised(platform: str, bots: dict[str, ChatReceiver]) -> None:
    bot = bots[platform]
    m = message(title=INJECTION, entities=[{"name": "[x](http://evil.example/e) @all <!here>", "city": "嘉兴市"}],
                excerpt="![p](http://evil/p.png) <@U1> <at user_id=\"all\"></at>")
    send(platform, target(platform, bot, secret_for(platform)), m)
    [req] = bot.received
    assert req.problems == []
    data = req.json()
    text = shown_text(platform, req)
    everything = "\n".join(strings(data))
    assert "点我" in text and "所有人" in text  # the words are shown ...
    assert "http://evil" not in everything and "https://evil" not in everything  # ... but never as a link
    assert "@all" not in everything and "@U" not in everything
    if platform in ("dingtalk", "wecom"):
        targets = re.findall(r"\]\(([^)]*)\)", text)
        assert targets == [LINK], targets  # the one markdown link (or image) is ours
        assert "<" not in text and "`" not in text  # no HTML-ish tags (<font>, <@userid>) and no code spans
        assert "**粗**" not in text
    if platform == "dingtalk":
        assert data["at"]["isAtAll"] is False
    if platform == "feishu":
        els = [el for para in data["content"]["post"]["zh_cn"]["content"] for el in para]
        assert {el["tag"] for el in els} == {"text", "a"}
        assert [el["href"] for el in els if el["tag"] == "a"] == [LINK]
        assert "<at" not in everything
    if platform == "slack":
        for s in (data["text"], *strings(data["blocks"])):
            assert re.findall(r"<([^>]*)>", s) in ([], [f"{LINK}|Original page"]), s  # no <!channel>, <@U…>, <url|x>


def test_a_link_that_is_not_http_is_dropped(bots: dict[str, ChatReceiver]) -> None:
    for p in PLATFORMS:
        m = render(key="msg_1", event_type="announcement.new", event_key="k", created_at="2026-03-01T00:00:00Z",
                   payload={"title": TITLE, "url": "javascript:alert(1)"})
        send(p, target(p, bots[p]), m)
        assert "javascript" not in bots[p].received[0].body.decode(), p
        assert bots[p].received[0].problems == []


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_10kb_title_is_truncated_within_the_limits(platform: str, bots: dict[str, ChatReceiver]) -> None:
    bot = bots[platform]
    title = ("关于公布浙江省专精特新中小企业名单的通知" + "A") * 330  # ~10 KB of UTF-8, mixed widths
    assert len(title.encode()) > 10_000
    ents = [{"name": "嘉兴某某科技有限公司" * 12 + str(i), "city": "嘉兴市", "region": "平湖市"} for i in range(40)]
    send(platform, target(platform, bot, secret_for(platform)), message(title=title, entities=ents,
                                                                         excerpt="正文" * 2000))
    [req] = bot.received
    assert req.problems == []  # the receivers enforce each platform's limits
    text = shown_text(platform, req)
    assert "\ufffd" not in text
    assert "关于公布浙江省专精特新中小企业名单的通知A" in text
    assert title not in text and "…" in text
    assert LINK in req.body.decode()  # the link and footer survive the cut
    if platform == "wecom":
        size = len(req.json()["markdown"]["content"].encode("utf-8"))
        assert 3500 < size <= 4096  # cut near the limit, not emptied
    if platform == "slack":
        assert len(req.json()["blocks"][0]["text"]["text"]) <= 3000


def test_truncate_bytes_cuts_on_a_character_boundary() -> None:
    for n in range(0, 40):
        s = truncate_bytes("中文A" * 20, n)
        assert len(s.encode("utf-8")) <= n
        assert "\ufffd" not in s
    assert truncate_bytes("中文", 6) == "中文"
    assert truncate_bytes("中文中", 7) == "中…"


def test_a_message_without_payload_still_sends(bots: dict[str, ChatReceiver]) -> None:
    m = Message(key="msg_2", subject="[clusterwatch] digest: 2 alerts", text="2 alerts\n\n1. 一\n2. 二 [x](http://evil)\n",
                html="", json_body=b"{}")
    for p in PLATFORMS:
        send(p, target(p, bots[p]), m)
        [req] = bots[p].received
        assert req.problems == []
        text = shown_text(p, req)
        assert "digest: 2 alerts" in text and "1. 一" in text and "http://evil" not in text


def test_every_chat_kind_is_registered() -> None:
    for p, cls in NOTIFIERS.items():
        assert Notifier.registry[p] is cls and cls.__doc__ and "\n" not in cls.__doc__.strip()


# --- end to end: config -> outbox -> relay_once -> four receivers ---------------------------------------------------------------


def test_relay_once_delivers_to_each_chat_kind_exactly_once(
        bots: dict[str, ChatReceiver], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        load_config: Callable[[str], config.Settings]) -> None:
    monkeypatch.setenv("CW_TEST_DINGTALK_SECRET", DT_SECRET)
    monkeypatch.setenv("CW_TEST_FEISHU_SECRET", FS_SECRET)
    bots["dingtalk"].secret, bots["feishu"].secret = DT_SECRET, FS_SECRET
    channels = "".join(f'\n[[subscribers.channels]]\nkind = "{p}"\nurl = "{bots[p].url}"\n'
                       + (f'secret_env = "CW_TEST_{p.upper()}_SECRET"\n' if p in ("dingtalk", "feishu") else "")
                       for p in PLATFORMS)
    settings = load_config(LOOPBACK_ALLOW + f'[delivery]\nwebhook_timeout = 2.0\n\n[[subscribers]]\nname = "chatty"\n{channels}')
    db = dbm.open_db(tmp_path / "t.db")
    store.sync_sources(db, [("jx", "http://example.invalid/", "static")], iso(utcnow()))
    a = Announcement(key=item_key("jx", LINK), source="jx", url=LINK, title=TITLE, pub_date="2026-03-01",
                     content_hash="h1", body="各市、县（市、区）经信局：现将名单公布如下。")
    ev = event_for(a)
    planned = plan([ev], settings.subscribers)
    assert sorted(d.channel for d in planned) == sorted(PLATFORMS)
    store.commit_check(db, source="jx", now=iso(utcnow()), seen_keys=[a.key], announcements=[a], events=[ev],
                       deliveries=planned, baseline=False, etag=None, last_modified=None, outcome="ok")

    report = asyncio.run(relay_once(settings, db))
    assert (report.sent, report.retried, report.dead) == (4, 0, 0), outbox.deliveries(db)
    rows = outbox.deliveries(db)
    assert {r["channel"]: r["status"] for r in rows} == {p: "sent" for p in PLATFORMS}
    for p in PLATFORMS:
        [req] = bots[p].received
        assert req.problems == [], (p, req.problems)
        assert TITLE in shown_text(p, req) and LINK in req.body.decode()

    assert asyncio.run(relay_once(settings, db)).sent == 0  # nothing is sent twice
    assert all(len(bots[p].received) == 1 for p in PLATFORMS)


def test_the_subscribers_own_entities_are_listed_first(bots: dict[str, ChatReceiver]) -> None:
    ents = [{"name": f"杭州企业{i}", "city": "杭州市", "region": "余杭区"} for i in range(12)]
    ents.append({"name": "平湖市某某精密光学有限公司", "city": "嘉兴市", "region": "平湖市"})
    m = render(key="msg_3", event_type="announcement.new", event_key="k", created_at="2026-03-01T00:00:00Z",
               payload={"title": TITLE, "url": LINK, "entities": ents}, focus=("嘉兴市",))
    send("wecom", target("wecom", bots["wecom"]), m)
    text = shown_text("wecom", bots["wecom"].received[0])
    assert "Selected (13): 平湖市某某精密光学有限公司" in text  # first, although it came last and beyond the first 10
