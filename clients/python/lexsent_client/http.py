"""HTTP clients (httpx): vectors travel base64-encoded float32, four times smaller than JSON floats."""

from __future__ import annotations

import asyncio
import base64
import ssl
import sys
import time
from array import array
from collections.abc import Sequence
from typing import Any

import httpx

from lexsent_client.collections import AsyncHttpCollections, HttpCollections
from lexsent_client.errors import LexsentClientError
from lexsent_client.retry import Retry
from lexsent_client.types import Embeddings, LongInput, ModelInfo, Parity


def _retryable(response: httpx.Response) -> bool:
    """A full queue or a draining server, which the server marks with `Retry-After`; not a 503 for a write
    cut off at shutdown, which may have been applied and so carries no `Retry-After`."""
    return response.status_code == 429 or (response.status_code == 503 and "retry-after" in response.headers)


Input = str | Sequence[str] | Sequence[int] | Sequence[Sequence[int]]


def _decode(value: str) -> list[float]:
    values = array("f", base64.b64decode(value))
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()


def _body(inputs: Input, model: str | None, dimensions: int | None, long_input: LongInput) -> dict[str, Any]:
    body: dict[str, Any] = {"input": inputs if isinstance(inputs, str) else list(inputs)}
    body["encoding_format"] = "base64"
    if model is not None:
        body["model"] = model
    if dimensions is not None:
        body["dimensions"] = dimensions
    if long_input is not None:
        body["long_input"] = long_input
    return body


def _check(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json()
    try:
        error = response.json()["error"]
        raise LexsentClientError(response.status_code, error["type"], error["message"])
    except (ValueError, KeyError, TypeError):
        raise LexsentClientError(response.status_code, "http_error", response.text) from None


def _embeddings(payload: Any) -> Embeddings:
    data = sorted(payload["data"], key=lambda d: d["index"])
    return Embeddings(
        model=payload["model"],
        vectors=[_decode(d["embedding"]) if isinstance(d["embedding"], str) else d["embedding"] for d in data],
        token_counts=[int(d.get("tokens", 0)) for d in data],
        truncated=[bool(d.get("truncated", False)) for d in data],
        prompt_tokens=int(payload["usage"]["prompt_tokens"]),
    )


def _models(payload: Any) -> list[ModelInfo]:
    return [
        ModelInfo(
            name=m["id"],
            kind=m["kind"],
            dim=m["dim"],
            max_length=m["max_length"],
            pooling=m["pooling"],
            normalized=m["normalized"],
            precision=m["precision"],
            languages=m["languages"],
            fingerprint=m["fingerprint"],
            is_default=m["default"],
            architecture=m["architecture"],
            parity=Parity(**m["parity"]),
            evaluation=dict(m["evaluation"]),
        )
        for m in payload["data"]
    ]


def _headers(api_key: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {api_key}"} if api_key else {}


class _Connection:
    """The constructor both HTTP clients share. `verify`: for https, True (system CAs), a CA bundle path
    (e.g. a self-signed server's certificate) or an `ssl.SSLContext`."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        retry: Retry | None = None,
        verify: bool | str | ssl.SSLContext = True,
    ) -> None:
        self._retry = retry or Retry()
        self._http = self._open(base_url=base_url, headers=_headers(api_key), timeout=timeout, verify=verify)

    def _open(self, **options: Any) -> Any:
        raise NotImplementedError


class Client(_Connection, HttpCollections):
    def _open(self, **options: Any) -> httpx.Client:
        return httpx.Client(**options)

    def _request(self, method: str, path: str, json: Any = None) -> Any:
        for delay in self._retry.delays():
            response = self._http.request(method, path, json=json)
            if not _retryable(response):
                return _check(response)
            time.sleep(self._retry.wait(delay, response.headers.get("retry-after")))
        return _check(self._http.request(method, path, json=json))

    def embed(
        self, inputs: Input, *, model: str | None = None, dimensions: int | None = None, long_input: LongInput = None
    ) -> Embeddings:
        body = _body(inputs, model, dimensions, long_input)
        return _embeddings(self._request("POST", "/v1/embeddings", body))

    def models(self) -> list[ModelInfo]:
        return _models(self._request("GET", "/v1/models"))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncClient(_Connection, AsyncHttpCollections):
    """The asyncio twin of `Client` (same arguments)."""

    def _open(self, **options: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(**options)

    async def _request(self, method: str, path: str, json: Any = None) -> Any:
        for delay in self._retry.delays():
            response = await self._http.request(method, path, json=json)
            if not _retryable(response):
                return _check(response)
            await asyncio.sleep(self._retry.wait(delay, response.headers.get("retry-after")))
        return _check(await self._http.request(method, path, json=json))

    async def embed(
        self, inputs: Input, *, model: str | None = None, dimensions: int | None = None, long_input: LongInput = None
    ) -> Embeddings:
        body = _body(inputs, model, dimensions, long_input)
        return _embeddings(await self._request("POST", "/v1/embeddings", body))

    async def models(self) -> list[ModelInfo]:
        return _models(await self._request("GET", "/v1/models"))

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()
