"""Signed JSON webhooks per the Standard Webhooks spec.

Headers: ``webhook-id`` (the idempotency key, the same on every retry),
``webhook-timestamp`` (this attempt) and ``webhook-signature`` (space-separated
``v1,<base64 HMAC-SHA256>`` over ``{id}.{timestamp}.{body}``, one per secret so
keys can be rotated). Redirects are never followed: a 3xx is a failure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import httpx

from config import Network
from scraper.errors import Refused
from scraper.netguard import guarded_transport

from notifier.base import Message, Notifier, PermanentError, Target, TransientError
from scraper.timeutil import retry_after


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(secrets: tuple[str, ...], headers: dict[str, str], body: bytes, *, tolerance: int = 300,
           now: float | None = None) -> bool:
    """Receiver-side check (used by the demo receiver): any valid signature, fresh timestamp."""
    h = {k.lower(): v for k, v in headers.items()}
    try:
        ts = int(h["webhook-timestamp"])
        msg_id = h["webhook-id"]
        offered = h["webhook-signature"].split()
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    expected = {sign(s, msg_id, ts, body) for s in secrets}
    return any(hmac.compare_digest(o, e) for o in offered for e in expected)


class WebhookNotifier(Notifier):
    """POST the alert as signed JSON (Standard Webhooks)."""

    kind = "webhook"

    def __init__(self, timeout: float = 20.0, user_agent: str = "clusterwatch-webhook/0.1",
                 transport: httpx.AsyncBaseTransport | None = None, network: Network = Network()):
        # Every connection passes the SSRF guard (scraper.netguard); a custom transport is for tests.
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False,
                                         headers={"User-Agent": user_agent},
                                         transport=transport or guarded_transport(network))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, target: Target, message: Message) -> None:
        assert target.url
        ts = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": message.key,
            "webhook-timestamp": str(ts),
            "webhook-signature": " ".join(sign(s, message.key, ts, message.json_body) for s in target.secrets),
        }
        try:
            resp = await self._client.post(target.url, content=message.json_body, headers=headers)
        except Refused as e:  # the URL points into a private network: no retry can help
            raise PermanentError(f"webhook: {e}") from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            raise TransientError(f"webhook: {type(e).__name__}: {e}", target_down=True) from None
        except httpx.HTTPError as e:
            raise TransientError(f"webhook: {type(e).__name__}: {e}") from None
        except (httpx.InvalidURL, ValueError) as e:  # e.g. a host that is not valid IDNA: no retry can help
            raise PermanentError(f"webhook URL cannot be used: {type(e).__name__}: {e}") from None
        status = resp.status_code
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            raise TransientError(f"webhook answered {status} (redirects are not followed; update the URL)")
        if status == 410:
            raise PermanentError("webhook answered 410 Gone: endpoint disabled", disable=True)
        if status in (408, 429) or status >= 500:
            raise TransientError(f"webhook answered {status}", retry_after=retry_after(resp.headers))
        raise PermanentError(f"webhook answered {status}")
