"""notifier.render: pure rendering of an event into subject, text, HTML and the webhook body.

Scraped text is attacker-controlled (reliability.md §0 promise 5, §7 item 11).
"""

from __future__ import annotations

import json
import re

import pytest

from notifier.base import Message
from notifier.render import SUBJECT_MAX, WEBHOOK_SCHEMA_VERSION, header_safe, render, safe_link, webhook_body

KEY = "msg_0123456789abcdef0123456789abcdef"
EVENT_KEY = "announcement.new:fb2edb8afddb2e629ec6c39f"
CREATED = "2026-03-01T08:00:00Z"


def _render(**payload: object) -> Message:
    return render(key=KEY, event_type="announcement.new", event_key=EVENT_KEY, created_at=CREATED,
                  payload=payload)


def _body(message: Message) -> dict:
    return json.loads(message.json_body.decode("utf-8"))


# --- header_safe ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("批次\r\nBcc: x@example.com", "批次 Bcc: x@example.com"),
        ("a\x00b\x07c", "a b c"),
        ("line\u2028sep\u2029para", "line sep para"),
        ("nel\x85here", "nel here"),
        ("  lots   of\t\tspace  ", "lots of space"),
        ("", ""),
    ],
)
def test_header_safe_flattens_to_one_clean_line(raw: str, expected: str) -> None:
    assert header_safe(raw) == expected


def test_header_safe_none_is_empty() -> None:
    assert header_safe(None) == ""  # type: ignore[arg-type]


def test_header_safe_truncates_with_ellipsis() -> None:
    out = header_safe("x" * 500, limit=50)
    assert len(out) == 50
    assert out == "x" * 49 + "…"
    assert header_safe("x" * 50, limit=50) == "x" * 50  # exactly at the limit: untouched


# --- safe_link -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "javascript://example.org/%0Aalert(1)",  # has a hostname: only the scheme check stops it
        "ftp://example.org/file",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/x",
        "http://",
        "http://exa\nmple.org/",
        "http://example.org/\x00",
        None,
        42,
        "",
    ],
)
def test_safe_link_rejects_non_http_and_control_characters(url: object) -> None:
    assert safe_link(url) is None


@pytest.mark.parametrize(
    "url, expected",
    [
        ("http://www.jiaxing.gov.cn/art/2026/1/5/art_1.html", "http://www.jiaxing.gov.cn/art/2026/1/5/art_1.html"),
        ("https://example.org/a?b=1&c=2", "https://example.org/a?b=1&c=2"),
        ("  https://example.org/x  ", "https://example.org/x"),
    ],
)
def test_safe_link_keeps_http_links(url: str, expected: str) -> None:
    assert safe_link(url) == expected


# --- render --------------------------------------------------------------------------------


def test_render_fields() -> None:
    m = _render(title="关于公布2026年度嘉兴市专精特新中小企业名单的通知", url="https://jxj.example.org/art/1.html",
                source="jiaxing-jxj", pub_date="2026-03-01", issuer="嘉兴市经济和信息化局",
                excerpt="第一段\n\n第二段", attachments=[{"url": "https://jxj.example.org/f/1.xlsx", "text": "名单.xlsx"}])
    assert m.key == KEY
    assert m.subject == "[clusterwatch] 关于公布2026年度嘉兴市专精特新中小企业名单的通知"
    assert m.text.splitlines() == [
        "New announcement: 关于公布2026年度嘉兴市专精特新中小企业名单的通知",
        "",
        "Source: jiaxing-jxj",
        "Published: 2026-03-01",
        "Issuer: 嘉兴市经济和信息化局",
        "Link: https://jxj.example.org/art/1.html",
        "",
        "第一段",
        "第二段",
        "",
        "Attachments:",
        "- 名单.xlsx <https://jxj.example.org/f/1.xlsx>",
        "",
        "-- clusterwatch",
    ]
    assert '<a href="https://jxj.example.org/art/1.html">关于公布2026年度嘉兴市专精特新中小企业名单的通知</a>' in m.html
    assert "<th align=left>Issuer</th><td>嘉兴市经济和信息化局</td>" in m.html
    assert "<p>第一段</p><p>第二段</p>" in m.html
    assert '<li><a href="https://jxj.example.org/f/1.xlsx">名单.xlsx</a></li>' in m.html


def test_render_missing_title_is_untitled_not_empty() -> None:
    m = _render(title=None, url=None)
    assert m.subject == "[clusterwatch] (untitled)"
    assert m.text.startswith("New announcement: (untitled)\n")


def test_render_html_escapes_scraped_text() -> None:
    evil = "<img src=x onerror=alert(1)>"
    m = _render(title=evil, url="https://example.org/a\"onmouseover=\"x", issuer="<b>issuer</b>",
                excerpt="<script>alert(2)</script>", attachments=[{"url": "https://example.org/f", "text": "<i>f</i>"}])
    for raw in ("<img", "<script>", "<b>issuer", "<i>f"):
        assert raw not in m.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in m.html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in m.html
    assert "&lt;b&gt;issuer&lt;/b&gt;" in m.html
    assert "&lt;i&gt;f&lt;/i&gt;" in m.html
    # a quote in the URL cannot break out of the href attribute
    assert 'href="https://example.org/a&quot;onmouseover=&quot;x"' in m.html
    assert 'onmouseover="' not in m.html


def test_render_javascript_url_is_never_a_link() -> None:
    m = _render(title="click", url="javascript://example.org/%0Aalert(document.cookie)",
                attachments=[{"url": "javascript://example.org/%0Aalert(1)", "text": "evil.doc"},
                             {"url": "https://example.org/ok.pdf", "text": "ok.pdf"}])
    assert "javascript:" not in m.html
    assert "javascript:" not in m.text
    assert "Link:" not in m.text
    assert "<h2>click</h2>" in m.html  # plain heading, no anchor
    assert "evil.doc" not in m.text and "evil.doc" not in m.html
    assert "- ok.pdf <https://example.org/ok.pdf>" in m.text
    assert _body(m)["data"]["url"] is None


def test_render_header_injection_in_title_stays_on_one_line() -> None:
    m = _render(title="批次\r\nBcc: x@example.com\r\n\r\nbody")
    assert m.subject == "[clusterwatch] 批次 Bcc: x@example.com body"
    assert "\r" not in m.subject and "\n" not in m.subject
    assert m.text.splitlines()[0] == "New announcement: 批次 Bcc: x@example.com body"


def test_render_huge_title_with_nul_bytes_is_bounded_and_clean() -> None:
    title = "批" * 10_000 + "\x00\x00end"
    m = _render(title=title, excerpt="x\x00y")
    assert len(m.subject) == SUBJECT_MAX
    assert m.subject.endswith("…")
    first = m.text.splitlines()[0]
    assert len(first) == len("New announcement: ") + 1000
    assert "\x00" not in m.subject and "\x00" not in m.text
    assert "x y" in m.text
    # the webhook body keeps the data (JSON-escaped), it is not truncated
    assert _body(m)["data"]["title"] == title


def test_render_raises_on_malformed_attachments() -> None:
    """A malformed payload raises (the relay turns that into a dead row); it never renders half an alert."""
    with pytest.raises(AttributeError):
        _render(title="t", attachments=[42])


# --- webhook body ------------------------------------------------------------------------------


def test_webhook_body_shape_and_determinism() -> None:
    payload = {"title": "名单", "url": "https://example.org/a", "source": "src", "excerpt": "e", "zeta": 1}
    b1 = webhook_body(event_type="announcement.new", event_key=EVENT_KEY, created_at=CREATED, payload=payload)
    b2 = webhook_body(event_type="announcement.new", event_key=EVENT_KEY, created_at=CREATED,
                      payload=dict(reversed(list(payload.items()))))
    assert b1 == b2  # key order of the payload does not matter: byte-identical
    assert "名单".encode() in b1  # UTF-8, not \u escapes
    assert b" " not in b1.replace("名单".encode(), b"")  # compact separators
    body = json.loads(b1)
    assert body == {
        "version": WEBHOOK_SCHEMA_VERSION,
        "type": "announcement.new",
        "timestamp": CREATED,
        "data": {"title": "名单", "url": "https://example.org/a", "source": "src", "excerpt": "e", "zeta": 1,
                 "event_key": EVENT_KEY, "attachments": []},
    }
    assert list(json.loads(b1)) == sorted(json.loads(b1))


def test_render_json_body_matches_webhook_body() -> None:
    payload = {"title": "t", "url": "https://example.org/"}
    m = _render(**payload)
    assert m.json_body == webhook_body(event_type="announcement.new", event_key=EVENT_KEY, created_at=CREATED,
                                       payload=payload)


def test_render_is_pure() -> None:
    payload = {"title": "t", "url": "javascript:x", "attachments": []}
    snapshot = json.dumps(payload, sort_keys=True)
    a = _render(**payload)
    b = _render(**payload)
    assert a == b
    assert json.dumps(payload, sort_keys=True) == snapshot


def test_no_control_characters_reach_the_subject_for_any_c0_or_c1() -> None:
    title = "".join(chr(c) for c in list(range(0, 32)) + list(range(0x7F, 0xA0))) + "ok"
    m = _render(title=title)
    assert re.fullmatch(r"\[clusterwatch\] ok", m.subject), m.subject


def test_webhook_body_drops_attachment_links_that_are_not_http() -> None:
    payload = {"title": "t", "url": "https://example.org/", "attachments": [
        {"text": "名单.pdf", "url": "https://example.org/a.pdf"},
        {"text": "evil", "url": "javascript:alert(1)"},
        {"text": "data", "url": "data:text/html,<script>x</script>"},
    ]}
    data = json.loads(webhook_body(event_type="announcement.new", event_key=EVENT_KEY, created_at=CREATED,
                                   payload=payload))["data"]
    assert data["attachments"] == [{"text": "名单.pdf", "url": "https://example.org/a.pdf"}]
