"""Lean load-generator connections for bench/serve: an HTTP/1.1 keep-alive client and a unary gRPC
client written straight on HTTP/2 frames.

The load generator shares the 2-core machine with the servers it measures, so whatever CPU it spends
per request is taken from them. httpx cost about as much per request as a server; the grpc.aio client
0.45–0.65 ms of CPU per call, against 0.13 for `KeepAlive` (measured with the per-process CPU counters
bench/serve prints). Both clients here speak only what the benchmark needs and check every answer:
status 200 / a gRPC response message carrying one embedding per input.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from typing import cast

import httpx

from server.proto_gen import embeddings_pb2 as pb


class KeepAlive:
    """A minimal HTTP/1.1 keep-alive connection (one request at a time)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, base: str) -> KeepAlive:
        url = httpx.URL(base)
        reader, writer = await asyncio.open_connection(url.host, url.port)
        return cls(reader, writer, f"{url.host}:{url.port}")

    async def post(self, path: str, body: bytes) -> bytes:
        head = f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\ncontent-type: application/json\r\n"
        self.writer.write(f"{head}content-length: {len(body)}\r\n\r\n".encode() + body)
        headers = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        status = int(headers.split(" ", 2)[1])
        length = int(headers.split("content-length:", 1)[1].split("\r\n", 1)[0])
        payload = await self.reader.readexactly(length)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {payload[:200]!r}")
        return payload

    def close(self) -> None:
        self.writer.close()


# HTTP/2 (RFC 9113) frame types and flags used here.
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, ACK, END_HEADERS, PADDED = 0x1, 0x1, 0x4, 0x8
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_WINDOW = 2**31 - 1
DEFAULT_WINDOW = 65_535
SETTINGS_ENABLE_PUSH, SETTINGS_INITIAL_WINDOW_SIZE = 0x2, 0x4


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes((kind, flags)) + struct.pack(">I", stream) + payload


def hpack_literal(name: bytes, value: bytes) -> bytes:
    """One header as an HPACK literal without indexing, new name, no Huffman (RFC 7541 §6.2.2); the
    values here are all shorter than 127 bytes, so each length fits its 7-bit prefix."""
    assert len(name) < 127 and len(value) < 127
    return b"\x00" + bytes((len(name),)) + name + bytes((len(value),)) + value


@dataclass
class _Stream:
    """One call in flight: its response bytes so far and the future its caller awaits."""

    done: asyncio.Future[bytes]
    body: bytearray = field(default_factory=bytearray)


def _settle(done: asyncio.Future[bytes], outcome: bytes | Exception) -> None:
    """Resolve a call's future unless its caller has gone (a cancelled call's future is cancelled)."""
    if done.done():
        return
    if isinstance(outcome, Exception):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)


class GrpcUnary(asyncio.Protocol):
    """Unary gRPC calls multiplexed over one HTTP/2 connection without TLS (h2c with prior knowledge).

    An asyncio protocol (frames parsed from `data_received`, no per-frame awaits: a StreamReader-based
    version cost twice the CPU). The HPACK header blocks the server sends are not decoded (that needs
    its Huffman and dynamic tables): a gRPC server sends a response message only when the call
    succeeds, so a stream that ends without one is reported as failed, and a message is checked by the
    caller (`embed` parses it and counts its embeddings)."""

    def __init__(self, authority: str) -> None:
        self.authority = authority.encode()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.streams: dict[int, _Stream] = {}
        self.next_stream = 1
        self.received = 0  # DATA bytes since the last connection-level WINDOW_UPDATE
        self.failure: str | None = None

    @classmethod
    async def open(cls, target: str) -> GrpcUnary:
        host, port = target.rsplit(":", 1)
        _, protocol = await asyncio.get_running_loop().create_connection(lambda: cls(target), host, int(port))
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        settings = struct.pack(">HIHI", SETTINGS_ENABLE_PUSH, 0, SETTINGS_INITIAL_WINDOW_SIZE, MAX_WINDOW)
        self.transport.write(
            PREFACE
            + frame(SETTINGS, 0, 0, settings)
            + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", MAX_WINDOW - DEFAULT_WINDOW))
        )

    async def call(self, path: str, message: bytes) -> bytes:
        """Send one request message to `path` (`/package.Service/Method`); returns the response message."""
        if self.failure is not None or self.transport is None:
            raise RuntimeError(f"connection failed: {self.failure}")
        stream, self.next_stream = self.next_stream, self.next_stream + 2
        headers = b"\x83\x86"  # static table: `:method: POST`, `:scheme: http`
        for name, value in (
            (b":path", path.encode()),
            (b":authority", self.authority),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
            (b"grpc-timeout", b"120S"),  # as the grpc clients send for timeout=120
        ):
            headers += hpack_literal(name, value)
        body = b"\x00" + struct.pack(">I", len(message)) + message  # uncompressed length-prefixed message
        state = _Stream(asyncio.get_running_loop().create_future())
        self.streams[stream] = state
        self.transport.write(frame(HEADERS, END_HEADERS, stream, headers) + frame(DATA, END_STREAM, stream, body))
        raw = await state.done
        if len(raw) < 5 or raw[0] != 0 or struct.unpack(">I", raw[1:5])[0] != len(raw) - 5:
            raise RuntimeError(f"stream {stream} ended without a single uncompressed response message")
        return raw[5:]

    async def embed(self, texts: list[str], model: str) -> None:
        request = pb.EmbedRequest(texts=pb.Texts(values=texts), model=model).SerializeToString()
        response = pb.EmbedResponse.FromString(await self.call("/lexsent.v1.Embeddings/Embed", request))
        if len(response.data) != len(texts):
            raise RuntimeError(f"{len(response.data)} embeddings for {len(texts)} inputs")

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        start = 0
        while len(buffer) - start >= 9:
            length = int.from_bytes(buffer[start : start + 3], "big")
            end = start + 9 + length
            if len(buffer) < end:
                break
            kind, flags = buffer[start + 3], buffer[start + 4]
            stream = int.from_bytes(buffer[start + 5 : start + 9], "big") & MAX_WINDOW
            self._handle(kind, flags, stream, bytes(buffer[start + 9 : end]))
            start = end
        del buffer[:start]

    def _handle(self, kind: int, flags: int, stream: int, payload: bytes) -> None:
        assert self.transport is not None
        if kind == SETTINGS and not flags & ACK:
            self.transport.write(frame(SETTINGS, ACK, 0))
        elif kind == PING and not flags & ACK:
            self.transport.write(frame(PING, ACK, 0, payload))
        elif kind == GOAWAY:
            self._fail(f"server sent GOAWAY (error code {int.from_bytes(payload[4:8], 'big')})")
        elif kind == RST_STREAM and stream in self.streams:
            code = int.from_bytes(payload[:4], "big")
            _settle(self.streams.pop(stream).done, RuntimeError(f"stream reset (error code {code})"))
        elif kind == DATA and stream in self.streams:
            self.received += len(payload)
            if flags & PADDED:
                payload = payload[1 : len(payload) - payload[0]]
            self.streams[stream].body += payload
            if self.received > MAX_WINDOW // 2:  # give the connection window back long before it runs out
                self.transport.write(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", self.received)))
                self.received = 0
        if kind in (DATA, HEADERS) and flags & END_STREAM and stream in self.streams:
            state = self.streams.pop(stream)
            _settle(state.done, bytes(state.body))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost ({exc!r})")

    def _fail(self, why: str) -> None:
        self.failure = why
        for state in self.streams.values():
            _settle(state.done, RuntimeError(f"connection failed: {why}"))
        self.streams.clear()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
