"""`lexsent ingest` against a real server: JSONL/CSV/text, batching, metadata, and resuming by id."""

from __future__ import annotations

import json
import re
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


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def cosine(a: object, b: object) -> float:
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))


def test_a_second_file_with_the_same_ids_is_refused_not_skipped(
    server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Positional ids (1, 2, 3 …) are the same in every file: b's first three records were once skipped as
    "already stored" although ids 1-3 held a's texts, and the run exited 0."""
    a = write_jsonl(tmp_path / "a.jsonl", [{"text": t} for t in ("alpha one", "alpha two", "alpha three")])
    beta = ["beta one", "beta two", "beta three", "beta four"]
    b = write_jsonl(tmp_path / "b.jsonl", [{"text": t} for t in beta])
    assert ingest(server, str(a), "--collection", "mix") == 0
    capsys.readouterr()
    assert ingest(server, str(b), "--collection", "mix") == 2
    captured = capsys.readouterr()
    assert "resuming" not in captured.out
    err = captured.err
    assert err.startswith("lexsent ingest: error: collection 'mix' already holds id 1 with different content"), err
    assert err.count("\n") == 1 and "not record 1 of this file" in err and "--restart" in err, err
    with Client(server.http_url) as client:
        assert client.get_collection("mix").count == 3  # refused before anything was sent
        alpha_one = client.fetch("mix", 1).vector
        assert cosine(alpha_one, client.embed("alpha one").vectors[0]) > 0.9999
        # --restart upserts every record of b, replacing a's points 1-3
        assert ingest(server, str(b), "--collection", "mix", "--restart") == 0
        assert "resuming" not in capsys.readouterr().out
        assert client.get_collection("mix").count == 4
        expected = client.embed(beta).vectors
        for i, vector in enumerate(expected, start=1):
            assert cosine(client.fetch("mix", i).vector, vector) > 0.9999
        # a re-run of b now finds all of it stored, as b's records: nothing is sent again
        assert ingest(server, str(b), "--collection", "mix") == 0
        assert "the first 4 of 4 points are already stored" in capsys.readouterr().out
        # and a's re-run is refused in turn
        assert ingest(server, str(a), "--collection", "mix") == 2
        assert "already holds id 1 with different content" in capsys.readouterr().err


def test_text_files_after_a_jsonl_file_are_refused(
    server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Plain text's ids are line numbers, the same in every file."""
    first = write_jsonl(tmp_path / "first.jsonl", [{"id": 1, "text": "one"}, {"id": 2, "text": "two"}, {"text": "x"}])
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("first line\n\nthird line\n")
    assert ingest(server, str(first), "--collection", "lines") == 0
    assert ingest(server, str(corpus), "--collection", "lines") == 2
    assert "collection 'lines' already holds id 1 with different content" in capsys.readouterr().err
    with Client(server.http_url) as client:
        assert client.get_collection("lines").count == 3
        assert cosine(client.fetch("lines", 3).vector, client.embed("x").vectors[0]) > 0.9999


def test_an_interrupted_text_ingest_resumes(
    server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"id": f"s{i}", "text": f"sentence {i} of the corpus", "n": i} for i in range(12)]
    path = write_jsonl(tmp_path / "corpus.jsonl", rows)
    with Client(server.http_url) as client:
        client.create_collection("texts")
        # an earlier run that died after its first batch (encoded in another batch than a re-run would use)
        client.upsert("texts", [{"id": r["id"], "text": r["text"], "metadata": {"n": r["n"]}} for r in rows[:5]])
        assert ingest(server, str(path), "--collection", "texts", "--batch-size", "3") == 0
        out = capsys.readouterr().out
        assert "resuming: the first 5 of 12 points are already stored" in out, out
        assert client.get_collection("texts").count == 12
        assert client.fetch("texts", "s11").metadata == {"n": 11}
        assert cosine(client.fetch("texts", "s11").vector, client.embed(rows[11]["text"]).vectors[0]) > 0.9999
        assert ingest(server, str(path), "--collection", "texts") == 0  # the same file again: nothing to do
        assert "the first 12 of 12 points are already stored" in capsys.readouterr().out
        assert client.get_collection("texts").count == 12


def test_the_first_and_last_stored_points_are_checked(
    server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vectors = np.random.default_rng(1).standard_normal((10, 4)).astype(np.float32)
    rows = [{"id": i, "vector": v.tolist(), "tag": "mine"} for i, v in enumerate(vectors)]
    path = write_jsonl(tmp_path / "v.jsonl", rows)
    with Client(server.http_url) as client:
        client.create_collection("checked", dim=4)
        assert ingest(server, str(path), "--collection", "checked") == 0
        capsys.readouterr()
        # record 1 (id 0) is never a midpoint of the binary search, yet it is checked
        client.upsert("checked", [{"id": 0, "vector": [1.0, 2.0, 3.0, 4.0], "metadata": {"tag": "mine"}}])
        assert ingest(server, str(path), "--collection", "checked") == 2
        err = capsys.readouterr().err
        assert "already holds id 0 with different content (from another file?): its vector differs" in err, err
        # the metadata counts too
        client.upsert("checked", [{"id": 0, "vector": rows[0]["vector"], "metadata": {"tag": "theirs"}}])
        assert ingest(server, str(path), "--collection", "checked") == 2
        assert "already holds id 0 with different content (from another file?): its metadata differs" in (
            capsys.readouterr().err
        )
        # another file's 0-9, of which a run of this file that died replaced 0-6: ids 7-9 are not this file's
        client.upsert("checked", [{"id": i, "vector": [1.0, 0.0, 0.0, float(i)]} for i in range(10)])
        client.upsert(
            "checked", [{"id": i, "vector": rows[i]["vector"], "metadata": {"tag": "mine"}} for i in range(7)]
        )
        assert ingest(server, str(path), "--collection", "checked") == 2
        assert re.search(r"already holds id [789] with different content", capsys.readouterr().err)
        assert ingest(server, str(path), "--collection", "checked", "--restart") == 0
        for i in range(10):
            point = client.fetch("checked", i)
            assert np.asarray(point.vector, np.float32).tobytes() == vectors[i].tobytes()
            assert point.metadata == {"tag": "mine"}


def test_a_stored_id_of_the_other_type_is_not_the_record(
    server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over HTTP a fetch of "1" falls back to the integer 1; that point is not the file's string id "1"."""
    path = write_jsonl(tmp_path / "s.jsonl", [{"id": str(i), "vector": [1.0, float(i)]} for i in range(1, 4)])
    with Client(server.http_url) as client:
        client.create_collection("types", dim=2)
        client.upsert("types", [{"id": i, "vector": [1.0, float(i)]} for i in range(1, 4)])
        assert ingest(server, str(path), "--collection", "types") == 2
        assert "already holds id '1' with different content (from another file?): the stored id is the integer 1" in (
            capsys.readouterr().err
        )
