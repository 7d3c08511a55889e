"""Shared by the chat group-bot notifiers (DingTalk, WeCom, Feishu/Lark, Slack); see docs/chat.md.

* :func:`alert` turns a rendered :class:`~notifier.base.Message` and its event payload into one
  compact :class:`Alert`: a headline, a few labelled fields, the selected entities, a short excerpt
  and one http(s) link.
* Scraped text is untrusted. :func:`md_escape` (DingTalk, WeCom markdown), :func:`plain` (Feishu
  ``post`` text) and :func:`mrkdwn_escape` (Slack) make sure it cannot inject links, images, HTML
  or @mentions. Markdown characters are swapped for their full-width forms rather than
  backslash-escaped: the platforms do not document backslash escapes, and a single character can
  never be cut in half by truncation. ``://`` becomes ``：//`` so the clients do not auto-link a
  URL that came from scraped text; the only link in a message is the announcement's own, and its
  label is ours.
* :func:`truncate_bytes` / :func:`compose` keep a message inside a platform's size limit, cutting
  on a UTF-8 character boundary.
* :class:`ChatHttp` is the one POST: no redirects, no proxies from the environment, an explicit
  timeout, and the same status rules as the webhook notifier. The bot URL holds the bot's token,
  so every error message is passed through :func:`redact` first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

import httpx

from config import Network
from notifier.base import Message, NotifyError, PermanentError, TransientError
from notifier.render import header_safe, safe_link
from scraper.errors import Refused
from scraper.netguard import guarded_transport
from scraper.timeutil import retry_after

HEADLINE_MAX = 200  # characters
TITLE_MAX = 300
FIELD_MAX = 120
ENTITY_MAX = 10  # entities listed; the rest are counted
EXCERPT_MAX = 160
LINES_MAX = 200  # text lines used when a message has no payload
LINK_LABEL = "Original page"
FOOTER = "clusterwatch"  # also what a DingTalk/Feishu "custom keyword" security setting can match

# (label, payload field): the few facts worth a line in a chat message.
FIELDS = (("Program", "program_name"), ("Level", "level"), ("Stage", "stage"), ("Batch", "batch"),
          ("Published", "pub_date"), ("Issuer", "issuer"), ("Source", "source"),
          ("Failed checks", "failures"), ("Failing since", "since"), ("Last error", "error"),
          ("Subscriber", "subscriber"), ("Channel", "channel"))


# --- escaping ------------------------------------------------------------------------------------------------


def defang(text: str) -> str:
    """No @mentions and no auto-linked URLs from scraped text: ``@`` -> ``＠``, ``://`` -> ``：//``."""
    return text.replace("@", "\uff20").replace("://", "\uff1a//")


# Everything that starts markdown syntax (links, images, emphasis, code, headings, quotes, tables) or
# an HTML-ish tag (WeCom's <font>, <@userid>) becomes its full-width twin.
_MD = str.maketrans({"[": "［", "]": "］", "<": "＜", ">": "＞", "`": "｀", "*": "＊", "_": "＿", "~": "～",
                     "|": "｜", "#": "＃", "\\": "＼", "!": "！"})


def md_escape(text: str) -> str:
    """Scraped text for DingTalk/WeCom markdown: displayed as written, never interpreted."""
    return defang(text).translate(_MD)


def plain(text: str) -> str:
    """Scraped text for Feishu ``post`` text elements (plain text): no tags, mentions or auto-links."""
    return defang(text).replace("<", "＜").replace(">", "＞")


def mrkdwn_escape(text: str) -> str:
    """Scraped text for Slack mrkdwn: ``&``, ``<``, ``>`` as entities (so no ``<!channel>``,
    ``<@U123>`` or ``<http://x|label>``), plus :func:`defang`."""
    return defang(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_URL_UNSAFE = {c: f"%{ord(c):02X}" for c in " ()[]<>\"'`\\|{}^"}


def md_url(url: str) -> str:
    """A checked http(s) URL as a markdown link target: characters that could end the target are
    percent-encoded."""
    return "".join(_URL_UNSAFE.get(c, c) for c in url)


def slack_url(url: str) -> str:
    """A checked http(s) URL inside Slack's ``<url|label>``."""
    return md_url(url).replace("&", "&amp;")


# --- size limits ---------------------------------------------------------------------------------------------------


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def truncate_bytes(text: str, limit: int, ellipsis: str = "…") -> str:
    """At most ``limit`` UTF-8 bytes, cut on a character boundary, ``ellipsis`` marking a cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = max(0, limit - utf8_len(ellipsis))
    return data[:room].decode("utf-8", errors="ignore") + (ellipsis if utf8_len(ellipsis) <= limit else "")


def truncate_chars(text: str, limit: int, ellipsis: str = "…") -> str:
    return text if len(text) <= limit else text[: max(0, limit - len(ellipsis))] + ellipsis


def compose(lines: Iterable[str], limit: int, *, sep: str = "\n", tail: Iterable[str] = (),
            unit: str = "bytes") -> str:
    """Join ``lines`` then ``tail`` with ``sep`` within ``limit`` UTF-8 bytes (``unit="chars"``:
    characters).

    ``tail`` (the link and footer) is always kept; ``lines`` are added in order while they fit,
    the first one that does not is cut, and the rest are dropped. Markdown here never relies on a
    character pair that a cut could split, since scraped text is escaped character by character.
    """
    size = utf8_len if unit == "bytes" else len
    cut = truncate_bytes if unit == "bytes" else truncate_chars
    tail = [t for t in tail if t]
    budget = limit - (size(sep.join(tail)) + size(sep) if tail else 0)
    out: list[str] = []
    used = 0
    for line in lines:
        if not line:
            continue
        cost = size(line) + (size(sep) if out else 0)
        if used + cost <= budget:
            out.append(line)
            used += cost
            continue
        room = budget - used - (size(sep) if out else 0)
        if room > 8:
            out.append(cut(line, room))
        break
    text = sep.join(out + tail)
    return text if size(text) <= limit else cut(text, limit)  # the tail alone too big: a blunt cut


# --- the compact alert -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    """One alert, as raw (unescaped) one-line strings; each platform escapes for its own syntax."""

    headline: str
    title: str | None  # the announcement title when the headline does not already show it
    fields: tuple[tuple[str, str], ...]
    entities: tuple[str, ...]
    more_entities: int
    excerpt: str
    link: str | None  # http(s) only
    lines: tuple[str, ...] = ()  # without a payload: the message's text part


def alert(message: Message) -> Alert:
    p: Mapping[str, Any] = message.payload or {}
    headline = header_safe(message.subject.removeprefix("[clusterwatch]").strip(), HEADLINE_MAX)
    raw_title = header_safe(str(p.get("title") or ""), TITLE_MAX)
    if not headline:
        headline, raw_title = truncate_chars(raw_title, HEADLINE_MAX) or "clusterwatch alert", ""
    title = raw_title if raw_title and raw_title[:20] not in headline else None  # not shown twice
    fields = tuple((label, header_safe(str(p[key]), FIELD_MAX)) for label, key in FIELDS
                   if p.get(key) not in (None, "", [], {}))
    ents = [e for e in p.get("entities") or [] if isinstance(e, Mapping) and e.get("name")]
    names = []
    for e in ents[:ENTITY_MAX]:
        where = "/".join(dict.fromkeys(str(x) for x in (e.get("city"), e.get("region")) if x))
        names.append(header_safe(str(e["name"]) + (f" [{where}]" if where else ""), FIELD_MAX))
    excerpt = header_safe(" ".join(str(p.get("excerpt") or "").split()), EXCERPT_MAX)
    # No payload (a digest, a test message): the text part, line by line, as far as the limit allows.
    lines = () if p else tuple(header_safe(line, FIELD_MAX * 2) for line in message.text.splitlines()[:LINES_MAX]
                               if line.strip() and line.strip() != "-- clusterwatch")
    return Alert(headline=headline, title=title, fields=fields, entities=tuple(names),
                 more_entities=max(0, len(ents) - ENTITY_MAX), excerpt=excerpt, link=safe_link(p.get("url")),
                 lines=lines)


def entity_line(a: Alert, escape: Callable[[str], str]) -> str:
    if not a.entities:
        return ""
    more = f"; … and {a.more_entities} more" if a.more_entities else ""
    return f"Selected ({len(a.entities) + a.more_entities}): " + "; ".join(escape(n) for n in a.entities) + more


def markdown(a: Alert, *, limit: int, sep: str) -> str:
    """DingTalk / WeCom markdown: bold headline, fields, entities, excerpt, then the link and footer."""
    lines = [f"**{md_escape(a.headline)}**"]
    if a.title:
        lines.append(md_escape(a.title))
    lines += [f"**{label}**: {md_escape(value)}" for label, value in a.fields]
    lines.append(entity_line(a, md_escape))
    if a.excerpt:
        lines.append("> " + md_escape(a.excerpt))
    lines += [md_escape(line) for line in a.lines]
    tail = [f"[{LINK_LABEL}]({md_url(a.link)})" if a.link else "", f"— {FOOTER}"]
    return compose(lines, limit, sep=sep, tail=tail)


# --- HTTP ------------------------------------------------------------------------------------------------------------


def dumps(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON: Chinese stays Chinese (and counts once against size limits)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def redact(text: str, url: str | None, secrets: Iterable[str] = ()) -> str:
    """Remove the bot URL, its token-bearing parts and the signing secrets from an error message."""
    hidden = [s for s in secrets if s]
    if url:
        hidden.append(url)
        try:
            u = httpx.URL(url)
            hidden += [v for _, v in u.params.multi_items() if len(v) >= 6]
            hidden += [seg for seg in u.path.split("/") if len(seg) >= 16]
            hidden += [seg for seg in u.raw_path.decode("ascii", "replace").split("/") if len(seg) >= 16]
        except Exception:  # an unparseable URL: the whole string is already hidden
            pass
    for h in sorted(set(hidden), key=len, reverse=True):
        text = text.replace(h, "…")
    return header_safe(text, 500)


def reply_json(resp: httpx.Response) -> dict[str, Any] | None:
    try:
        data = json.loads(resp.content or b"null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def int_field(data: Mapping[str, Any] | None, *keys: str) -> tuple[str, int] | None:
    """The first of ``keys`` holding an integer (or an integer string), with its name."""
    for k in keys:
        v = (data or {}).get(k)
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            return k, v
        if isinstance(v, str) and re.fullmatch(r"-?\d+", v.strip()):
            return k, int(v)
    return None


class ChatHttp:
    """One HTTP client for one chat platform."""

    def __init__(self, service: str, *, timeout: float, user_agent: str,
                 transport: httpx.AsyncBaseTransport | None = None, network: Network = Network()):
        self.service = service
        # Every connection passes the SSRF guard (scraper.netguard); a custom transport is for tests.
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False,
                                         headers={"User-Agent": user_agent},
                                         transport=transport or guarded_transport(network))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, body: bytes, *, hide: Iterable[str] = ()) -> httpx.Response:
        """POST ``body`` as JSON. Raises only for failures to talk to the server at all."""
        hide = tuple(hide)
        try:
            return await self._client.post(url, content=body,
                                           headers={"content-type": "application/json; charset=utf-8"})
        except Refused as e:  # the bot URL points into a private network: no retry can help
            raise PermanentError(self.error_text(f"{self.service}: {e}", url, hide)) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            why = f"{self.service}: {type(e).__name__}: {e}"
            raise TransientError(self.error_text(why, url, hide), target_down=True) from None
        except httpx.HTTPError as e:
            why = f"{self.service}: {type(e).__name__}: {e}"
            raise TransientError(self.error_text(why, url, hide)) from None
        except (httpx.InvalidURL, ValueError) as e:  # no retry can help
            why = f"{self.service}: the bot URL cannot be used: {type(e).__name__}: {e}"
            raise PermanentError(self.error_text(why, url, hide)) from None

    def error_text(self, text: str, url: str | None, hide: Iterable[str] = ()) -> str:
        """``text`` without the bot URL, its token or the secrets."""
        return redact(text, url, hide)

    def status_error(self, resp: httpx.Response, url: str, hide: Iterable[str] = ()) -> NotifyError | None:
        """The webhook rules for an HTTP status: 2xx fine (None); 3xx a failure that is not followed;
        408, 429 and 5xx transient (honouring Retry-After); any other 4xx permanent."""
        status = resp.status_code
        detail = header_safe(resp.text, 200) if resp.content else ""
        said = f"{self.service} answered {status}" + (f": {detail}" if detail else "")
        if 200 <= status < 300:
            return None
        if 300 <= status < 400:
            return TransientError(self.error_text(f"{self.service} answered {status} "
                                            "(redirects are not followed; check the bot URL)", url, hide))
        if status in (408, 429) or status >= 500:
            return TransientError(self.error_text(said, url, hide), retry_after=retry_after(resp.headers))
        return PermanentError(self.error_text(said, url, hide))

    def check_code(self, resp: httpx.Response, url: str, *, code_keys: tuple[str, ...], msg_keys: tuple[str, ...],
                   transient: Mapping[int, float | None], hide: Iterable[str] = ()) -> None:
        """For platforms that answer ``{"errcode"|"code": 0, ...}``: a rate-limit or busy code is
        transient (even on an HTTP 4xx), any other non-zero code is permanent."""
        hide = tuple(hide)
        if 300 <= resp.status_code < 400:
            raise self.status_error(resp, url, hide)  # type: ignore[misc]
        data = reply_json(resp)
        found = int_field(data, *code_keys)
        msg = next((str(data[k]) for k in msg_keys if data and data.get(k)), "")
        if found and found[1] in transient:
            key, code = found
            wait = retry_after(resp.headers)
            raise TransientError(self.error_text(f"{self.service} answered {key} {code}: {msg}", url, hide),
                                 retry_after=wait if wait is not None else transient[code])
        err = self.status_error(resp, url, hide)
        if err is not None:
            raise err
        if found is None:
            raise PermanentError(self.error_text(f"{self.service} gave an unexpected reply: "
                                           f"{header_safe(resp.text, 200)!r}", url, hide))
        key, code = found
        if code != 0:
            raise PermanentError(self.error_text(f"{self.service} answered {key} {code}: {msg}", url, hide))
