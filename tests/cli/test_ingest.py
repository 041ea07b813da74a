"""`lexsent ingest` against a real server: JSONL/CSV/text, batching, metadata, and resuming by id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from lexsent_client import Client

from cli.main import main
from tests.server.harness import Running, running_server


@pytest.fixture(scope="module")
def server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running_server([tiny_bundle], data_dir=tmp_path_factory.mktemp("data")) as running:
        yield running


def ingest(server: Running, *args: str) -> int:
    return main(["ingest", *args, "--url", server.http_url])


def test_jsonl_with_text_and_metadata(server: Running, tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    rows = [{"id": f"doc-{i}", "text": f"sentence number {i}", "lang": "en", "n": i} for i in range(25)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert ingest(server, str(path), "--collection", "docs", "--batch-size", "7", "--index", "hnsw") == 0
    with Client(server.http_url) as client:
        info = client.get_collection("docs")
        assert info.count == 25 and info.index == "hnsw"
        assert client.fetch("docs", "doc-3").metadata == {"lang": "en", "n": 3}
        assert client.search("docs", query="sentence number 12", k=1)[0].id == "doc-12"


def test_resume_skips_the_stored_prefix(server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vectors = np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32)
    path = tmp_path / "vecs.jsonl"
    path.write_text("\n".join(json.dumps({"id": i, "vector": v.tolist(), "k": i % 3}) for i, v in enumerate(vectors)))
    with Client(server.http_url) as client:
        client.create_collection("vecs", dim=4)
        # an earlier run that died after 3 batches of 5
        client.upsert("vecs", [{"id": i, "vector": vectors[i].tolist(), "metadata": {"k": i % 3}} for i in range(15)])
        assert ingest(server, str(path), "--collection", "vecs", "--batch-size", "5") == 0
        assert "the first 15 of 40 points are already stored" in capsys.readouterr().out
        assert client.get_collection("vecs").count == 40
        point = client.fetch("vecs", 39)
        assert np.asarray(point.vector, np.float32).tobytes() == vectors[39].tobytes()
        assert point.metadata == {"k": 0}
    assert ingest(server, str(path), "--collection", "vecs") == 0
    assert "the first 40 of 40" in capsys.readouterr().out


def test_csv_and_plain_text(server: Running, tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    # with the byte-order mark a spreadsheet's CSV export starts with: it must not join the "id" header
    table.write_text("\ufeffid,text,topic\na,apples and pears,fruit\nb,buses and trains,transport\n")
    lines = tmp_path / "t.txt"
    lines.write_text("first line\n\nthird line\n")
    assert ingest(server, str(table), "--collection", "csv") == 0
    assert ingest(server, str(lines), "--collection", "txt") == 0
    with Client(server.http_url) as client:
        assert client.fetch("csv", "b").metadata == {"topic": "transport"}
        assert client.get_collection("txt").count == 2
        assert client.search("txt", query="third line", k=1)[0].id == 3


def test_bad_records_and_unreachable_server(
    server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": 1, "title": "no text"}) + "\n")
    assert ingest(server, str(path), "--collection", "bad") == 2
    assert "neither 'text' nor 'vector'" in capsys.readouterr().err
    path.write_text("".join(json.dumps({"id": i, "text": "t"}) + "\n" for i in ("a", "b", "a")))
    assert ingest(server, str(path), "--collection", "bad") == 2
    assert "record 3 repeats the id 'a' of record 1" in capsys.readouterr().err
    path.write_text(json.dumps({"id": "a", "text": "t"}) + "\n" + json.dumps({"id": [1], "text": "t"}) + "\n")
    assert ingest(server, str(path), "--collection", "bad") == 2  # was a TypeError traceback (unhashable)
    assert "record 2: point id must be a string or an integer" in capsys.readouterr().err
    with Client(server.http_url) as client:
        assert "bad" not in [c.name for c in client.list_collections()]  # refused before anything was sent
    good = tmp_path / "good.txt"
    good.write_text("x\n")
    assert main(["ingest", str(good), "--collection", "c", "--url", "http://127.0.0.1:9"]) == 2
    assert "is `lexsent serve` running?" in capsys.readouterr().err


def test_unreadable_lines_are_refused_by_file_and_line(
    server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [json.dumps({"id": i, "text": f"line {i}"}) for i in range(3)]
    path = tmp_path / "grow.jsonl"
    path.write_text("\n".join(good) + "\n")
    assert ingest(server, str(path), "--collection", "grow", "--batch-size", "1") == 0
    capsys.readouterr()
    more = [json.dumps({"id": i, "text": f"line {i}"}) for i in range(3, 6)]
    cases = [  # (file name, bytes, the error after "FILE:")
        ("grow.jsonl", "\n".join([*good, "", *more, '{"id": 9, "text": ']).encode(), "8: not valid JSON"),
        (
            "grow.jsonl",
            "\n".join([*good, *more, '{"id": 9, "vector": "[1, 2"}']).encode(),
            "7: record 7: field 'vector' is not valid JSON (Expecting ',' delimiter at column 6)",
        ),
        ("grow.jsonl", "\n".join([*good, *more]).encode() + b'\n{"id": 9, "text": "caf\xe9"}\n', "7: not valid UTF-8"),
        ("t.csv", b"id,text\n1,one\n2,caf\xe9\n", "3: not valid UTF-8"),
        ("t.csv", b"id,text\n1,one\n2," + b"x" * 200_000 + b"\n", "3: not valid CSV (field larger than field limit"),
        ("t.txt", b"one\n\n\xff\n", "3: not valid UTF-8"),
    ]
    for name, content, problem in cases:
        (tmp_path / name).write_bytes(content)
        assert ingest(server, str(tmp_path / name), "--collection", "grow", "--batch-size", "1") == 2
        err = capsys.readouterr().err
        assert err.startswith(f"lexsent ingest: error: {tmp_path / name}:{problem}") and err.count("\n") == 1, err
    with Client(server.http_url) as client:
        assert client.get_collection("grow").count == 3  # refused before anything was sent, good lines included
