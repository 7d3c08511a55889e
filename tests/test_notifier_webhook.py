"""notifier.webhook: Standard Webhooks signing and the status policy (reliability.md §1.2, §7 items 5-7).

Every request goes to a real server on 127.0.0.1; signatures are checked with the
reference ``standardwebhooks`` package, not with our own code.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import socket
import threading
import time
from datetime import datetime, timezone
from typing import Iterator

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

import notifier.webhook as webhook_mod
from notifier.base import Message, PermanentError, Target, TransientError
from notifier.render import render
from notifier.webhook import WebhookNotifier, sign, verify
from tests.conftest import LOOPBACK, new_secret
from tests.servers.http import FixtureServer, Resp
from tests.servers.smtp import free_port
from tests.servers.webhook import ReceiverPool, WebhookReceiver

KAT_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KAT_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
KAT_TS = 1614265330
KAT_BODY = b'{"test": 2432232314}'
KAT_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

KEY = "msg_0123456789abcdef0123456789abcdef"


def _message(title: str = "关于公布专精特新企业名单的通知") -> Message:
    return render(key=KEY, event_type="announcement.new", event_key="announcement.new:abc",
                  created_at="2026-03-01T08:00:00Z",
                  payload={"title": title, "url": "https://example.org/a", "source": "jx"})


def _send(target: Target, message: Message, timeout: float = 5.0) -> None:
    async def go() -> None:
        n = WebhookNotifier(timeout=timeout, network=LOOPBACK)
        try:
            await n.send(target, message)
        finally:
            await n.aclose()

    asyncio.run(go())


class FakeTime:
    """Stands in for the ``time`` module inside notifier.webhook: real time plus an offset."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    ft = FakeTime()
    monkeypatch.setattr(webhook_mod, "time", ft)
    return ft


@pytest.fixture(scope="module")
def _pool() -> Iterator[ReceiverPool]:
    pool = ReceiverPool()
    yield pool
    pool.close()


@pytest.fixture
def hooks(_pool: ReceiverPool) -> ReceiverPool:
    _pool.used = 0
    return _pool


@pytest.fixture
def secret() -> str:
    return new_secret()


@pytest.fixture
def receiver(hooks: ReceiverPool, secret: str) -> WebhookReceiver:
    return hooks.take(secret)


# --- signing ---------------------------------------------------------------------------------------


def test_known_answer_vector() -> None:
    assert sign(KAT_SECRET, KAT_ID, KAT_TS, KAT_BODY) == KAT_SIG


def test_known_answer_vector_with_the_reference_library() -> None:
    ref = Webhook(KAT_SECRET).sign(KAT_ID, datetime.fromtimestamp(KAT_TS, tz=timezone.utc), KAT_BODY.decode())
    assert ref == KAT_SIG


@pytest.mark.parametrize("body", [b"{}", "{\"t\":\"名单\"}".encode(), b'{"a":"x.y.z"}', b""])
def test_sign_agrees_with_reference_library(body: bytes) -> None:
    secret = new_secret()
    ts = 1_700_000_000
    ours = sign(secret, KEY, ts, body)
    assert ours == Webhook(secret).sign(KEY, datetime.fromtimestamp(ts, tz=timezone.utc), body.decode())
    assert ours.startswith("v1,") and len(base64.b64decode(ours[3:])) == 32


def test_sign_changes_with_every_input() -> None:
    base = sign(KAT_SECRET, KAT_ID, KAT_TS, KAT_BODY)
    assert sign(new_secret(), KAT_ID, KAT_TS, KAT_BODY) != base
    assert sign(KAT_SECRET, KAT_ID + "x", KAT_TS, KAT_BODY) != base
    assert sign(KAT_SECRET, KAT_ID, KAT_TS + 1, KAT_BODY) != base
    assert sign(KAT_SECRET, KAT_ID, KAT_TS, KAT_BODY + b" ") != base


def test_verify_helper() -> None:
    s1, s2 = new_secret(), new_secret()
    ts = int(time.time())
    body = b'{"x":1}'
    headers = {"Webhook-Id": KEY, "Webhook-Timestamp": str(ts), "Webhook-Signature": sign(s1, KEY, ts, body)}
    assert verify((s1,), headers, body)
    assert verify((s2, s1), headers, body)  # any configured secret
    assert not verify((s2,), headers, body)
    assert not verify((s1,), headers, body + b" ")
    assert not verify((s1,), {**headers, "Webhook-Id": KEY + "0"}, body)
    assert not verify((s1,), headers, body, now=ts + 301)  # too old
    assert not verify((s1,), headers, body, now=ts - 301)  # too new
    assert verify((s1,), headers, body, now=ts + 299)
    assert not verify((s1,), {k: v for k, v in headers.items() if k != "Webhook-Signature"}, body)
    assert not verify((s1,), {**headers, "Webhook-Timestamp": "soon"}, body)


# --- requests on the wire --------------------------------------------------------------------------------


def test_request_verifies_with_reference_receiver(receiver: WebhookReceiver, secret: str) -> None:
    m = _message()
    before = int(time.time())
    _send(Target(kind="webhook", url=receiver.url, secrets=(secret,)), m)
    after = int(time.time())
    assert len(receiver.received) == 1
    r = receiver.received[0]
    assert r.verified, r.error
    assert r.body == m.json_body  # byte-identical to what was signed
    assert r.headers["webhook-id"] == KEY
    assert before <= int(r.headers["webhook-timestamp"]) <= after
    assert r.headers["content-type"] == "application/json"
    assert r.headers["user-agent"] == "clusterwatch-webhook/0.1"
    assert json.loads(r.body)["data"]["title"] == "关于公布专精特新企业名单的通知"
    sig = r.headers["webhook-signature"]
    assert sig == sign(secret, KEY, int(r.headers["webhook-timestamp"]), m.json_body)


def test_a_different_secret_fails_reference_verification(receiver: WebhookReceiver) -> None:
    _send(Target(kind="webhook", url=receiver.url, secrets=(new_secret(),)), _message())
    assert len(receiver.received) == 1
    assert not receiver.received[0].verified
    assert "signature" in (receiver.received[0].error or "").lower()


def test_rotation_two_signatures_each_verifies_alone(receiver: WebhookReceiver, secret: str) -> None:
    new = new_secret()
    m = _message()
    _send(Target(kind="webhook", url=receiver.url, secrets=(new, secret)), m)
    r = receiver.received[0]
    assert r.verified, r.error  # the receiver only knows the old secret
    sigs = r.headers["webhook-signature"].split(" ")
    assert len(sigs) == 2 and all(s.startswith("v1,") for s in sigs)
    ts = int(r.headers["webhook-timestamp"])
    assert sigs == [sign(new, KEY, ts, r.body), sign(secret, KEY, ts, r.body)]
    for secret, alone in ((new, sigs[0]), (secret, sigs[1])):
        Webhook(secret).verify(r.body, {**r.headers, "webhook-signature": alone})
    # and neither signature verifies under the other key
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(r.body, {**r.headers, "webhook-signature": sigs[1]})
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(r.body, {**r.headers, "webhook-signature": sigs[0]})


def test_retries_keep_id_and_body_refresh_timestamp_and_signature(
        secret: str, fake_time: FakeTime, hooks: ReceiverPool) -> None:
    receiver = hooks.take(secret, statuses=[500, 500, 200])
    m = _message()
    target = Target(kind="webhook", url=receiver.url, secrets=(secret,))
    for i in range(3):
        fake_time.offset = 30.0 * i  # later attempts, still inside the receiver's tolerance
        if i < 2:
            with pytest.raises(TransientError):
                _send(target, m)
        else:
            _send(target, m)
    got = receiver.received
    assert len(got) == 3
    assert all(r.verified for r in got), [r.error for r in got]
    assert {r.headers["webhook-id"] for r in got} == {KEY}
    assert {r.body for r in got} == {m.json_body}
    stamps = [int(r.headers["webhook-timestamp"]) for r in got]
    assert stamps[1] - stamps[0] in (29, 30, 31) and stamps[2] - stamps[1] in (29, 30, 31)
    assert len({r.headers["webhook-signature"] for r in got}) == 3


# --- status policy ---------------------------------------------------------------------------------------


@pytest.fixture
def redirect_target(hooks: ReceiverPool, secret: str) -> WebhookReceiver:
    return hooks.take(secret)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_is_not_followed_and_is_a_failure(status: int, secret: str,
                                                   redirect_target: WebhookReceiver, hooks: ReceiverPool) -> None:
    hook = hooks.take(secret, statuses=[status], extra_headers={"Location": redirect_target.url})
    with pytest.raises(TransientError, match=f"answered {status}.*redirects are not followed"):
        _send(Target(kind="webhook", url=hook.url, secrets=(secret,)), _message())
    assert len(hook.received) == 1
    assert redirect_target.received == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 413, 422])
def test_client_errors_are_permanent(status: int, secret: str, hooks: ReceiverPool) -> None:
    hook = hooks.take(secret, statuses=[status])
    with pytest.raises(PermanentError, match=f"answered {status}"):
        _send(Target(kind="webhook", url=hook.url, secrets=(secret,)), _message())
    assert len(hook.received) == 1


def test_410_is_permanent_gone(secret: str, hooks: ReceiverPool) -> None:
    hook = hooks.take(secret, statuses=[410])
    with pytest.raises(PermanentError, match="410 Gone"):
        _send(Target(kind="webhook", url=hook.url, secrets=(secret,)), _message())


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_transient_statuses(status: int, secret: str, hooks: ReceiverPool) -> None:
    hook = hooks.take(secret, statuses=[status])
    with pytest.raises(TransientError, match=f"answered {status}") as ei:
        _send(Target(kind="webhook", url=hook.url, secrets=(secret,)), _message())
    assert ei.value.retry_after is None


def test_429_retry_after_seconds(secret: str, hooks: ReceiverPool) -> None:
    hook = hooks.take(secret, statuses=[429], extra_headers={"Retry-After": "120"})
    with pytest.raises(TransientError) as ei:
        _send(Target(kind="webhook", url=hook.url, secrets=(secret,)), _message())
    assert ei.value.retry_after == 120.0


def test_503_retry_after_http_date(secret: str, hooks: ReceiverPool) -> None:
    when = email.utils.formatdate(time.time() + 600, usegmt=True)
    hook = hooks.take(secret, statuses=[503], extra_headers={"Retry-After": when})
    with pytest.raises(TransientError) as ei:
        _send(Target(kind="webhook", url=hook.url, secrets=(secret,)), _message())
    assert ei.value.retry_after is not None
    assert 595 <= ei.value.retry_after <= 601


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_success(status: int, secret: str, hooks: ReceiverPool) -> None:
    hook = hooks.take(secret, statuses=[status])
    _send(Target(kind="webhook", url=hook.url, secrets=(secret,)), _message())
    assert len(hook.received) == 1 and hook.received[0].verified


def test_connection_refused_is_transient(secret: str) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(TransientError, match="ConnectError"):
        _send(Target(kind="webhook", url=url, secrets=(secret,)), _message())


def test_slow_endpoint_times_out_within_limit(secret: str) -> None:
    release = threading.Event()
    site = FixtureServer()

    def slow(req: object) -> Resp:
        release.wait(10)
        return Resp(200)

    site.routes["/hook"] = slow
    try:
        start = time.monotonic()
        with pytest.raises(TransientError, match="Timeout"):
            _send(Target(kind="webhook", url=site.url("/hook"), secrets=(secret,)), _message(), timeout=0.5)
        elapsed = time.monotonic() - start
    finally:
        release.set()
        site.close()
    assert elapsed < 0.5 + 1.0


def test_silent_tcp_endpoint_times_out(secret: str) -> None:
    """A server that accepts the connection and never answers."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    try:
        url = f"http://127.0.0.1:{lsock.getsockname()[1]}/hook"
        start = time.monotonic()
        with pytest.raises(TransientError, match="Timeout"):
            _send(Target(kind="webhook", url=url, secrets=(secret,)), _message(), timeout=0.5)
        assert time.monotonic() - start < 1.5
    finally:
        lsock.close()


@pytest.mark.parametrize("url", ["http://☃.net/hook", "http://xn--/hook"])
def test_unusable_url_is_permanent_not_a_crash(url: str, secret: str) -> None:
    """Config accepts these (urlsplit finds a hostname) but they can never be sent to."""
    with pytest.raises(PermanentError, match="URL"):
        _send(Target(kind="webhook", url=url, secrets=(secret,)), _message())


def test_no_proxy_from_environment(monkeypatch: pytest.MonkeyPatch, receiver: WebhookReceiver,
                                   secret: str) -> None:
    """trust_env=False: an HTTP(S)_PROXY in the environment must not reroute signed alerts."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    _send(Target(kind="webhook", url=receiver.url, secrets=(secret,)), _message())
    assert len(receiver.received) == 1 and receiver.received[0].verified
