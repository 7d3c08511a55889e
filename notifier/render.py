"""Render an event into a subject, a text part, an HTML part and a JSON body. Pure.

Scraped text is untrusted: it is escaped in HTML, stripped of control
characters in headers, and links are limited to http(s).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from config.regions import Regions
from notifier.base import Message

WEBHOOK_SCHEMA_VERSION = 1
SUBJECT_MAX = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_safe(text: str, limit: int = SUBJECT_MAX) -> str:
    """One line, no control characters, at most ``limit`` characters."""
    flat = _CONTROL.sub(" ", text or "")
    flat = re.sub(r"\s+", " ", flat).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def safe_link(url: Any) -> str | None:
    if not isinstance(url, str) or _CONTROL.search(url):
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.hostname else None


def render(*, key: str, event_type: str, event_key: str, created_at: str, payload: Mapping[str, Any],
           focus: Sequence[str] = (), regions: Regions | None = None) -> Message:
    """``focus``: the subscriber's regions; their entities are counted in the subject and listed first."""
    title = str(payload.get("title") or "(untitled)")
    link = safe_link(payload.get("url"))
    ordered = dict(payload)
    local: list[Any] = []
    if focus and payload.get("entities"):
        local = [e for e in payload["entities"] if _in_focus(e, focus, regions)]
        ordered["entities"] = local + [e for e in payload["entities"] if e not in local]
    subject = header_safe(f"[clusterwatch] {_PREFIX.get(event_type, '')}{summary(payload, title, focus, len(local))}")
    return Message(
        key=key,
        subject=subject,
        text=_text(event_type, title, link, ordered),
        html=_html(title, link, ordered),
        json_body=webhook_body(event_type=event_type, event_key=event_key, created_at=created_at, payload=payload),
        payload=ordered,  # the subscriber's own entities first, as in the email
    )


_STAGE_WORD = {"notice": "公示", "final": "公布", "call": "申报", "revocation": "撤销", "evaluation": "评价"}


def summary(payload: Mapping[str, Any], title: str, focus: Sequence[str] = (), local: int = 0) -> str:
    """``浙江省中小企业特色产业集群 第二批 公布 — 嘉兴市 3`` when the program is known, else the title."""
    name = payload.get("program_name")
    if not name:
        return title
    region = str(payload.get("region") or "")
    parts = [(region if region and not str(name).startswith(region) else "") + str(name)]
    if payload.get("batch"):
        parts.append(f"第{_cn(int(payload['batch']))}批")
    elif payload.get("year"):
        parts.append(f"{payload['year']}年度")
    if payload.get("review"):
        parts.append("复核")
    parts.append(_STAGE_WORD.get(str(payload.get("stage")), ""))
    text = " ".join(p for p in parts if p)
    return f"{text} — {focus[0]} {local}" if focus and local else text


def _cn(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n - 10] if n > 10 else "")
    return (digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")) if n < 100 else str(n)


def _in_focus(entity: Any, focus: Sequence[str], regions: Regions | None) -> bool:
    if not isinstance(entity, dict):
        return False
    places = [p for p in (entity.get("region"), entity.get("city")) if isinstance(p, str) and p]
    return any(p == area or (regions is not None and regions.contains(area, p)) for area in focus for p in places)


_PREFIX = {
    "new_batch": "NEW BATCH: ",
    "stage_advanced": "FINAL LIST: ",
    "selections_added": "SELECTED: ",
    "list_changed": "LIST CHANGED: ",
    "source.failing": "FAILING: ",
    "source.recovered": "RECOVERED: ",
    "delivery.dead": "UNDELIVERED: ",
    "announcement_revised": "REVISED: ",
    "attachment_replaced": "ATTACHMENT CHANGED: ",
}
_HEADING = {"announcement.new": "New announcement: ", **_PREFIX}
_FIELDS = (("Program", "program_name"), ("Level", "level"), ("Stage", "stage"), ("Batch", "batch"),
           ("Year", "year"), ("Source", "source"), ("Published", "pub_date"), ("Issuer", "issuer"), ("Failed checks", "failures"),
           ("Failing since", "since"), ("Outcome", "outcome"), ("Last error", "error"), ("Recovered at", "recovered_at"),
           ("Subscriber", "subscriber"), ("Channel", "channel"), ("Attachment", "attachment_text"),
           ("Old sha256", "old_sha256"), ("New sha256", "new_sha256"))


def _lines(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for label, field in _FIELDS:
        value = payload.get(field)
        if value:
            rows.append((label, header_safe(str(value), 500)))
    return rows


def _text(event_type: str, title: str, link: str | None, payload: Mapping[str, Any]) -> str:
    out = [_HEADING.get(event_type, '') + header_safe(title, 1000), ""]
    out += [f"{label}: {value}" for label, value in _lines(payload)]
    if link:
        out.append(f"Link: {link}")
    excerpt = str(payload.get("excerpt") or "").strip()
    if excerpt:
        out += [""] + [header_safe(line, 2000) for line in excerpt.splitlines() if line.strip()]
    out += _entity_lines(payload)
    atts = [a for a in payload.get("attachments") or [] if safe_link(a.get("url"))]
    if atts:
        out += ["", "Attachments:"] + [f"- {header_safe(a.get('text') or '', 300)} <{a['url']}>" for a in atts]
    out += ["", "-- clusterwatch"]
    return "\n".join(out) + "\n"


def _entity_lines(payload: Mapping[str, Any], limit: int = 200) -> list[str]:
    """The selected entities, one per line: name [city/region] (category)."""
    ents = [e for e in payload.get("entities") or [] if isinstance(e, dict) and e.get("name")]
    if not ents:
        return []
    lines = ["", f"Selected ({len(ents)}):"]
    for e in ents[:limit]:
        where = "/".join(dict.fromkeys(str(x) for x in (e.get("city"), e.get("region")) if x))
        extra = f" ({e['category']})" if e.get("category") else ""
        lines.append(header_safe(f"- {e['name']}" + (f" [{where}]" if where else "") + extra, 500))
    if len(ents) > limit:
        lines.append(f"- … and {len(ents) - limit} more")
    return lines


def _html(title: str, link: str | None, payload: Mapping[str, Any]) -> str:
    """Every scraped string escaped, and stripped of control characters as in the text part."""
    e = html.escape
    heading = f'<a href="{e(link)}">{e(header_safe(title, 1000))}</a>' if link else e(header_safe(title, 1000))
    rows = "".join(f"<tr><th align=left>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in _lines(payload))
    excerpt = str(payload.get("excerpt") or "").strip()
    paras = "".join(f"<p>{e(header_safe(line, 2000))}</p>" for line in excerpt.splitlines() if line.strip())
    selected = _entity_lines(payload)
    if selected:
        paras += f"<h3>{e(selected[1])}</h3><ul>" + "".join(f"<li>{e(x[2:])}</li>" for x in selected[2:]) + "</ul>"
    atts = [a for a in payload.get("attachments") or [] if safe_link(a.get("url"))]
    att_html = ""
    if atts:
        items = "".join(f'<li><a href="{e(a["url"])}">{e(header_safe(a.get("text") or a["url"], 300))}</a></li>'
                        for a in atts)
        att_html = f"<h3>Attachments</h3><ul>{items}</ul>"
    return (
        '<!doctype html><html><head><meta charset="utf-8"></head><body>'
        f"<h2>{heading}</h2><table>{rows}</table>{paras}{att_html}"
        "<p style=\"color:#888\">clusterwatch</p></body></html>"
    )


def webhook_body(*, event_type: str, event_key: str, created_at: str, payload: Mapping[str, Any]) -> bytes:
    """The JSON body documented in docs/webhooks.md. Deterministic for a given event."""
    data = {k: v for k, v in payload.items()}
    data["url"] = safe_link(payload.get("url"))
    data["attachments"] = [
        {"text": str(a.get("text") or ""), "url": safe_link(a.get("url"))}
        for a in payload.get("attachments") or [] if isinstance(a, dict) and safe_link(a.get("url"))
    ]
    data["event_key"] = event_key
    body = {"version": WEBHOOK_SCHEMA_VERSION, "type": event_type, "timestamp": created_at, "data": data}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def render_digest(*, key: str, items: Sequence[tuple[str, str, Mapping[str, Any]]], created_at: str,
                  focus: Sequence[str] = (), regions: Regions | None = None) -> Message:
    """One message for a digest subscriber's collected alerts. ``items``: (event type, event key, payload)."""
    if not items:
        raise ValueError("a digest with no items is never sent")
    parts = [render(key=key, event_type=t, event_key=k, created_at=created_at, payload=p, focus=focus, regions=regions)
             for t, k, p in items]
    subject = header_safe(f"[clusterwatch] digest: {len(items)} alert{'s' if len(items) > 1 else ''}")
    text = "\n".join(f"{i}. {m.subject.removeprefix('[clusterwatch] ')}\n{m.text}" for i, m in enumerate(parts, 1))
    html_parts = "".join(f"<section>{m.html}</section><hr>" for m in parts)
    body = {"version": WEBHOOK_SCHEMA_VERSION, "type": "digest", "timestamp": created_at,
            "data": {"items": [json.loads(m.json_body) for m in parts]}}
    count = f"{len(items)} alert{'s' if len(items) > 1 else ''}"
    return Message(key=key, subject=subject, text=f"{count}\n\n{text}", html=html_parts,
                   json_body=json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode())
