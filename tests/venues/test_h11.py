"""The lean HTTP/1.1 client under `HttpClient` (`trader.venues._h11`), against raw local servers whose bytes
the test controls: keep-alive reuse, the three ways a body ends, connections that must not be reused, no
double send, failures classified as `HttpClient`'s contract says, cancellation, TLS with SNI, and the
request's bytes exactly as given."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import re
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from trader.clock import LiveClock
from trader.errors import UnknownOutcomeError, VenueUnavailableError
from trader.venues import _h11
from trader.venues._http import HttpClient

CLOCK = LiveClock()
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Tag: A\r\n\r\nok"


@dataclass
class Seen:
    """What the server saw: connections accepted, requests (head, body) read, SNI names offered."""

    accepts: int = 0
    requests: list[tuple[bytes, bytes]] = field(default_factory=list)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, Seen], Awaitable[None]]


async def read_request(r: asyncio.StreamReader, seen: Seen) -> bool:
    try:
        head = await r.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return False
    m = re.search(rb"(?i)\r\ncontent-length: *([0-9]+)", head)
    seen.requests.append((head, await r.readexactly(int(m[1])) if m else b""))
    return True


@asynccontextmanager
async def raw(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()

    async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        seen.accepts += 1
        try:
            await handler(r, w, seen)
        finally:
            w.close()

    host = "localhost" if tls else "127.0.0.1"
    server = await asyncio.start_server(on_conn, host, 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://{host}:{port}", seen
    finally:
        server.close()
        await server.wait_closed()


def answering(*answers: bytes, then: str = "wait") -> Handler:
    """Answer each request of a connection with the next answer; `then`: wait for EOF ("wait"), close
    ("close"), read one more request and close ("close_after_request") or reset ("reset"), or read one
    more and never answer ("stall")."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: Seen) -> None:
        for answer in answers:
            if not await read_request(r, seen):
                return
            w.write(answer)
            await w.drain()
        if then == "reset":
            if await read_request(r, seen):
                w.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                w.transport.abort()
        elif then == "close_after_request":
            await read_request(r, seen)
        elif then == "stall":
            await read_request(r, seen)
            await r.read()
        elif then == "wait":
            await r.read()

    return handler


def client(url: str, **kw: object) -> HttpClient:
    return HttpClient("t", url, clock=CLOCK, retry_backoff_s=0.001, **kw)  # type: ignore[arg-type]


def run(coro: Awaitable[None], loop: str = "asyncio") -> None:
    """On asyncio's loop, or on uvloop (what the CLI runs on Linux)."""
    if loop == "uvloop":
        import uvloop

        uvloop.run(coro)  # type: ignore[arg-type]
    else:
        asyncio.run(coro)  # type: ignore[arg-type]


LOOPS = pytest.mark.parametrize("loop", ["asyncio", "uvloop"])


@LOOPS
def test_keep_alive_reuses_one_connection_and_sends_lean_headers(loop: str) -> None:
    async def go() -> None:
        async with raw(answering(OK, OK, OK)) as (url, seen), client(url) as http:
            a = await http.request("GET", "/a", mutating=False)
            b = await http.request("POST", "/b", mutating=True)
            c = await http.request("DELETE", "/c", body=b"", mutating=True)
            assert (a.status, a.body, a.headers["x-tag"], a.headers["content-length"]) == (
                200,
                b"ok",
                "A",
                "2",
            )
            assert b.body == c.body == b"ok"
            assert a.latency_ns > 0
            assert seen.accepts == 1, "one TCP connection for three requests"
            get, post, delete = (h.decode() for h, _ in seen.requests)
            assert get.startswith("GET /a HTTP/1.1\r\nHost: 127.0.0.1:")
            assert "User-Agent: trader/" in get
            assert "content-length" not in get.lower()
            assert "accept-encoding" not in (get + post).lower(), "never a compressed answer"
            assert "Content-Length: 0\r\n" in post
            assert "Content-Length: 0\r\n" in delete
            conn = next(iter(http._conn._open))
            assert conn.transport is not None
            sock = conn.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

    run(go(), loop)


def test_query_and_body_arrive_byte_for_byte_under_the_base_path() -> None:
    query = "symbol=A%2FB&z=1&a=%2B1&list=%5B%22x%22%5D&signature=ab%2Bcd"
    body = b'{"b":2,"a":"%2B \xc3\xa9"}'

    async def go() -> None:
        async with raw(answering(OK)) as (url, seen), client(f"{url}/prefix/") as http:
            await http.request("POST", "/api/v3/order", query=query, body=body, mutating=True)
            head, sent = seen.requests[0]
            assert head.startswith(f"POST /prefix/api/v3/order?{query} HTTP/1.1\r\n".encode())
            assert sent == body
            assert f"Content-Length: {len(body)}\r\n".encode() in head

    run(go())


def test_a_line_break_in_a_header_or_the_path_is_refused_before_anything_is_sent() -> None:
    async def go() -> None:
        async with raw(answering(OK)) as (url, seen), client(url) as http:
            with pytest.raises(ValueError, match="line break"):
                await http.request("GET", "/a", headers={"X-A": "1\r\nX-Evil: 2"}, mutating=False)
            with pytest.raises(ValueError, match="line break"):
                await http.request("GET", "/a b", mutating=False)
            assert seen.requests == []

    run(go())


CHUNKED = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
)


def test_a_chunked_body_in_pieces_then_the_connection_is_reused() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: Seen) -> None:
        await read_request(r, seen)
        for i in range(0, len(CHUNKED), 7):  # the answer arrives in small pieces
            w.write(CHUNKED[i : i + 7])
            await w.drain()
            await CLOCK.sleep(0)
        await answering(OK)(r, w, seen)

    async def go() -> None:
        async with raw(handler) as (url, seen), client(url) as http:
            assert (await http.request("GET", "/c", mutating=False)).body == b"hello world"
            assert (await http.request("GET", "/c", mutating=False)).body == b"ok"
            assert seen.accepts == 1

    run(go())


def test_a_body_until_close_and_a_connection_close_answer_are_not_reused() -> None:
    until_close = b"HTTP/1.0 200 OK\r\nX-A: 1\r\n\r\nall of it"
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: Seen) -> None:
        await read_request(r, seen)
        w.write(closing if seen.accepts == 2 else until_close)
        await w.drain()
        if seen.accepts == 2:
            await r.read()  # the client closes it

    async def go() -> None:
        async with raw(handler) as (url, seen), client(url) as http:
            assert (await http.request("GET", "/u", mutating=False)).body == b"all of it"
            assert (await http.request("GET", "/u", mutating=False)).body == b"ok"
            assert (await http.request("GET", "/u", mutating=False)).body == b"all of it"
            assert seen.accepts == 3, "neither connection was used twice"

    run(go())


def test_head_and_204_have_no_body() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"
    empty = b"HTTP/1.1 204 No Content\r\n\r\n"

    async def go() -> None:
        async with raw(answering(head, empty, OK)) as (url, seen), client(url) as http:
            assert (await http.request("HEAD", "/h", mutating=False)).body == b""
            assert (await http.request("DELETE", "/d", mutating=True)).status == 204
            assert (await http.request("GET", "/g", mutating=False)).body == b"ok"
            assert seen.accepts == 1

    run(go())


def test_an_idle_connection_the_peer_closed_is_not_used_for_an_order() -> None:
    async def go() -> None:
        async with raw(answering(OK, then="close")) as (url, seen), client(url) as http:
            await http.request("GET", "/a", mutating=False)
            await CLOCK.sleep(0.05)  # the venue closes the idle connection
            assert (await http.request("POST", "/order", mutating=True)).body == b"ok"
            assert [h.split(b" ")[0] for h, _ in seen.requests] == [b"GET", b"POST"], "one POST, sent once"
            assert seen.accepts == 2

    run(go())


def test_a_connection_dying_after_the_request_left_is_an_unknown_outcome_and_a_read_goes_once_more() -> None:
    async def go() -> None:
        async with raw(answering(OK, then="close_after_request")) as (url, seen), client(url) as http:
            # the server reads the next request, then closes without an answer
            await http.request("GET", "/a", mutating=False)
            with pytest.raises(UnknownOutcomeError, match="no response"):
                await http.request("POST", "/order", mutating=True)
            assert len(seen.requests) == 2, "the order was sent once and never again"
            await http.request("GET", "/a", mutating=False)  # on a new connection
            assert (await http.request("GET", "/b", mutating=False)).body == b"ok"
            assert [h.split(b" ")[1] for h, _ in seen.requests] == [b"/a", b"/order", b"/a", b"/b", b"/b"]
            assert seen.accepts == 3, "the stale connection was left, the read resent once on a new one"

    run(go())


def test_only_a_read_is_resent_and_only_once_when_a_reused_connection_dies_unanswered() -> None:
    async def go() -> None:
        async with raw(answering(OK, then="close_after_request")) as (url, seen):
            pool = _h11.Client(url, user_agent="t", timeout_s=2, connect_timeout_s=1)
            try:
                await pool.request("GET", "/a", "", None, None)
                assert (await pool.request("GET", "/b", "", None, None, retry_stale=True))[2] == b"ok"
                with pytest.raises(_h11.Disconnected):
                    await pool.request("POST", "/o", "", None, None)  # an order: never resent
                assert [h.split(b" ")[1] for h, _ in seen.requests] == [b"/a", b"/b", b"/b", b"/o"]
            finally:
                await pool.close()

    run(go())


@LOOPS
def test_a_reset_after_the_request_was_written(loop: str) -> None:
    async def go() -> None:
        async with raw(answering(then="reset")) as (url, seen), client(url, read_retries=1) as http:
            with pytest.raises(UnknownOutcomeError):
                await http.request("POST", "/order", mutating=True)
            assert len(seen.requests) == 1
            with pytest.raises(VenueUnavailableError, match="no response"):
                await http.request("GET", "/a", mutating=False)
            assert len(seen.requests) == 3, "a read is retried, then unavailable"

    run(go(), loop)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
        b"ICY 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header: 1\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nab\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",  # then the connection closes
    ],
)
def test_a_malformed_answer_is_an_unknown_outcome_for_an_order(answer: bytes) -> None:
    async def go() -> None:
        async with raw(answering(answer, then="close")) as (url, seen), client(url) as http:
            with pytest.raises(UnknownOutcomeError, match="no response"):
                await http.request("POST", "/order", mutating=True)
            assert len(seen.requests) == 1
            assert not http._conn._idle, "never reused"

    run(go())


def test_a_malformed_status_line_on_a_read_is_retried_then_unavailable() -> None:
    async def go() -> None:
        async with raw(answering(b"garbage\r\n\r\n")) as (url, seen), client(url, read_retries=2) as http:
            with pytest.raises(VenueUnavailableError, match="Malformed"):
                await http.request("GET", "/a", mutating=False)
            assert len(seen.requests) == 3

    run(go())


def test_a_stalled_server_times_out() -> None:
    async def go() -> None:
        async with (
            raw(answering(then="stall")) as (url, seen),
            client(url, timeout_s=0.1, read_retries=0) as http,
        ):
            with pytest.raises(UnknownOutcomeError, match="TimeoutError"):
                await http.request("POST", "/order", mutating=True)
            with pytest.raises(VenueUnavailableError, match="TimeoutError"):
                await http.request("GET", "/a", mutating=False)
            assert (len(seen.requests), seen.accepts) == (2, 2), "a timed-out connection is not reused"

    run(go())


@LOOPS
def test_a_cancelled_request_closes_its_connection(loop: str) -> None:
    async def go() -> None:
        async with raw(answering(then="stall")) as (url, seen), client(url) as http:
            task = asyncio.get_running_loop().create_task(http.request("POST", "/o", mutating=True))
            while not seen.requests:
                await CLOCK.sleep(0.005)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await CLOCK.sleep(0.02)
            assert not http._conn._open, "closed, not pooled"
            assert http._conn._busy == 0

    run(go(), loop)


def test_connections_are_limited_and_expire_when_idle() -> None:
    async def slow(r: asyncio.StreamReader, w: asyncio.StreamWriter, seen: Seen) -> None:
        while await read_request(r, seen):
            await CLOCK.sleep(0.02)
            w.write(OK)
            await w.drain()

    async def go() -> None:
        async with raw(slow) as (url, seen):
            pool = _h11.Client(
                url, user_agent="t", timeout_s=2, connect_timeout_s=1, limit=2, keepalive_timeout_s=0.1
            )
            try:
                answers = await asyncio.gather(*(pool.request("GET", "/", "", None, None) for _ in range(5)))
                assert [a[2] for a in answers] == [b"ok"] * 5
                assert seen.accepts == 2, "never more than the limit"
                assert len(pool._idle) == 2
                await CLOCK.sleep(0.25)
                assert not pool._idle, "idle past the keep-alive timeout: closed"
                assert not pool._open
            finally:
                await pool.close()

    run(go())


def test_refused_and_timed_out_connects_are_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def never(*_a: object, **_k: object) -> None:
        await CLOCK.sleep(10)  # a SYN into the void

    async def go() -> None:
        async with client(f"http://127.0.0.1:{port}") as http:
            with pytest.raises(VenueUnavailableError, match="cannot connect"):
                await http.request("POST", "/order", mutating=True)
        loop = asyncio.get_running_loop()
        loop.create_connection = never  # type: ignore[method-assign,assignment]
        async with client(f"http://127.0.0.1:{port}", connect_timeout_s=0.05) as http:
            with pytest.raises(VenueUnavailableError, match="connect timeout"):
                await http.request("POST", "/order", mutating=True)  # nothing was sent
            assert http._conn._busy == 0

    run(go())


def self_signed() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365 * 100))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


@LOOPS
def test_https_with_sni_against_a_self_signed_certificate(tmp_path: Path, loop: str) -> None:
    cert, key = self_signed()
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    trust = ssl.create_default_context(cadata=cert.decode())
    seen_sni: list[str | None] = []

    def sni(_sock: object, name: str | None, _ctx: object) -> None:
        seen_sni.append(name)

    server_ctx.sni_callback = sni

    async def go() -> None:
        async with raw(answering(OK, OK), tls=server_ctx) as (url, seen):
            async with client(url, ssl_context=trust) as http:
                assert (await http.request("POST", "/o", query="a=%2B", mutating=True)).body == b"ok"
                assert (await http.request("GET", "/o", mutating=False)).body == b"ok"
                conn = next(iter(http._conn._open))
                assert conn.transport is not None
                assert conn.transport.get_extra_info("socket").getsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY
                )
            assert seen.accepts == 1
            assert seen_sni == ["localhost"]
            assert seen.requests[0][0].startswith(b"POST /o?a=%2B HTTP/1.1\r\nHost: localhost:")
            async with client(url, read_retries=0) as untrusting:  # the system's trust store: not ours
                with pytest.raises(VenueUnavailableError, match="cannot connect"):
                    await untrusting.request("GET", "/o", mutating=False)

    run(go(), loop)
