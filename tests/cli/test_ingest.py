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


def collection_names(server: Running) -> list[str]:
    with Client(server.http_url) as client:
        return [c.name for c in client.list_collections()]


def test_a_vectors_only_file_makes_a_plain_vector_collection(
    server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It once made a collection bound to the default model, then failed every upsert on the dimension."""
    rows = [
        {"id": "v1", "vector": "[1, 2, 3]"},  # quoted, as in a CSV cell
        {"id": "v2", "vector": [0, 1, 0], "tag": "y"},
        {"id": "v3", "vector": [-1.5, 0.25, 4]},
    ]
    path = write_jsonl(tmp_path / "vec.jsonl", rows)
    assert ingest(server, str(path), "--collection", "ingv", "--index", "hnsw", "--metric", "l2") == 0
    assert "ingv: 3 points" in capsys.readouterr().out
    with Client(server.http_url) as client:
        info = client.get_collection("ingv")
        assert (info.dim, info.model, info.index, info.metric, info.count) == (3, None, "hnsw", "l2", 3)
        assert client.fetch("ingv", "v3").vector == [-1.5, 0.25, 4.0]
        assert client.fetch("ingv", "v2").metadata == {"tag": "y"}
        hits = client.search("ingv", vector=[0.9, 1.9, 3.1], k=3)
        assert [h.id for h in hits] == ["v1", "v3", "v2"]  # squared distances 0.03, 9.3, 11.2
        assert ingest(server, str(path), "--collection", "ingv") == 0  # and it resumes, comparing vectors
        assert "the first 3 of 3 points are already stored" in capsys.readouterr().out
        # vectors of another dimension, or texts, are refused before anything is sent
        other = write_jsonl(tmp_path / "other.jsonl", [{"id": "w", "vector": [1, 2]}])
        assert ingest(server, str(other), "--collection", "ingv") == 2
        assert capsys.readouterr().err == (
            "lexsent ingest: error: record 1's vector has dimension 2, but collection 'ingv' stores dimension 3\n"
        )
        texts = write_jsonl(tmp_path / "texts.jsonl", [{"id": "w", "vector": [1, 2, 3]}, {"id": "t", "text": "hi"}])
        assert ingest(server, str(texts), "--collection", "ingv") == 2
        assert "collection 'ingv' holds plain vectors (no model), but record 2 has text" in capsys.readouterr().err
        assert client.get_collection("ingv").count == 3


def test_text_and_vectors_in_one_file(server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The server takes both in a collection bound to a model, if the vectors have the model's dimension."""
    with Client(server.http_url) as client:
        (model,) = client.models()
        wrong = write_jsonl(tmp_path / "wrong.jsonl", [{"id": 1, "text": "one"}, {"id": 2, "vector": [1.0, 2.0]}])
        assert ingest(server, str(wrong), "--collection", "both") == 2
        err = capsys.readouterr().err
        assert f"record 2's vector has dimension 2, but the default model {model.name!r}" in err, err
        assert f"has dimension {model.dim}; nothing was created" in err, err
        assert "both" not in collection_names(server)
        vector = np.random.default_rng(2).standard_normal(model.dim).astype(np.float32)
        right = write_jsonl(tmp_path / "right.jsonl", [{"id": 1, "text": "one"}, {"id": 2, "vector": vector.tolist()}])
        assert ingest(server, str(right), "--collection", "both") == 0
        info = client.get_collection("both")
        assert (info.model, info.count) == (model.name, 2)
        assert np.asarray(client.fetch("both", 2).vector, np.float32).tobytes() == vector.tobytes()
        assert cosine(client.fetch("both", 1).vector, client.embed("one").vectors[0]) > 0.9999
        assert ingest(server, str(right), "--collection", "both") == 0  # both kinds checked on a resume
        assert "the first 2 of 2 points are already stored" in capsys.readouterr().out


def test_a_refused_first_upsert_leaves_no_collection_behind(
    server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an all-zero vector has no direction: a cosine collection refuses it (ingest does not know the metric)
    path = write_jsonl(tmp_path / "zero.jsonl", [{"id": i, "vector": [float(i), 0.0]} for i in range(3)])
    assert ingest(server, str(path), "--collection", "stray", "--batch-size", "2") == 2
    err = capsys.readouterr().err.splitlines()[-1]  # after the progress bar
    assert err == (
        f"lexsent ingest: error: the server refused records 1–2 of {path}: 422 invalid_input: record 1's vector"
        " is all zeros; cosine similarity is undefined for it; the collection 'stray' this run had created was"
        " deleted again"
    ), err
    assert "stray" not in collection_names(server)
    # a later batch refused: the batches before it stay, and a re-run of the mended file resumes after them
    path = write_jsonl(tmp_path / "late.jsonl", [{"id": i, "vector": [1.0, float(i % 3)]} for i in range(4)])
    path.write_text(path.read_text() + json.dumps({"id": 4, "vector": [0.0, 0.0]}) + "\n")
    assert ingest(server, str(path), "--collection", "late", "--batch-size", "2") == 2
    err = capsys.readouterr().err
    assert "deleted" not in err and "refused record 5 of" in err, err
    assert err.endswith("records 1–4 of 5 are already stored, and a re-run (without --restart) resumes after them\n")
    with Client(server.http_url) as client:
        assert client.get_collection("late").count == 4
        path = write_jsonl(tmp_path / "late.jsonl", [{"id": i, "vector": [1.0, float(i % 3)]} for i in range(5)])
        assert ingest(server, str(path), "--collection", "late", "--batch-size", "2") == 0
        assert "the first 4 of 5 points are already stored" in capsys.readouterr().out
        assert client.get_collection("late").count == 5
        # a collection that was there before is never deleted, even when it is empty
        client.create_collection("kept", dim=2)
        zero = write_jsonl(tmp_path / "z.jsonl", [{"id": 1, "vector": [0.0, 0.0]}])
        assert ingest(server, str(zero), "--collection", "kept") == 2
        assert "deleted" not in capsys.readouterr().err
        assert "kept" in collection_names(server)


def test_a_later_batch_refused_by_the_server_names_the_record(
    server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server names a point by its position in the request ("vector 1 (0-based)"), which told the user of
    a long file nothing; ingest names the file's record and the batch's records instead. A norm too large for
    ip and metadata nested too deep are checked by the server only: the file reads cleanly."""
    rows: list[dict[str, object]] = [{"id": i, "vector": [1.0, float(i)]} for i in range(8)]
    rows[4] = {"id": 4, "vector": [1e19, 0.0]}  # norm beyond MAX_NORM (~9.2e18) for ip
    path = write_jsonl(tmp_path / "norm.jsonl", rows)
    assert ingest(server, str(path), "--collection", "norms", "--metric", "ip", "--batch-size", "3") == 2
    err = capsys.readouterr().err
    last = err.splitlines()[-1]  # after the progress bar
    assert last.startswith(
        f"lexsent ingest: error: the server refused records 4–6 of {path}: 422 invalid_input: record 5's vector"
        " has norm 1e+19; ip collections take norms up to"
    ), err
    assert last.endswith(
        "; records 1–3 of 8 are already stored, and a re-run (without --restart) resumes after them"
    ), err
    assert "0-based" not in err and "deleted" not in err, err
    with Client(server.http_url) as client:
        assert client.get_collection("norms").count == 3  # the first batch, stored before the refusal
        # the mended file resumes after them, where a refusal in a resumed run names the file's records too
        rows[4] = {"id": 4, "vector": [1.0, 4.0]}
        deep: object = "leaf"
        for _ in range(40):
            deep = {"d": deep}
        rows[6] = {"id": 6, "vector": [1.0, 6.0], "nested": deep}  # metadata deeper than MAX_METADATA_DEPTH
        write_jsonl(path, rows)
        assert ingest(server, str(path), "--collection", "norms", "--batch-size", "2") == 2
        captured = capsys.readouterr()
        assert "resuming: the first 3 of 8 points are already stored" in captured.out
        last = captured.err.splitlines()[-1]
        assert last == (
            f"lexsent ingest: error: the server refused records 6–7 of {path}: 422 invalid_input: record 7's"
            " metadata nests objects/arrays deeper than 32 levels; records 1–5 of 8 are already stored, and a"
            " re-run (without --restart) resumes after them"
        ), captured.err
        assert client.get_collection("norms").count == 5


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"id": 9, "vector": [1, true]}', "record 3: field 'vector' is not a non-empty list of numbers"),
        ('{"id": 9, "vector": []}', "record 3: field 'vector' is not a non-empty list of numbers"),
        ('{"id": 9, "vector": "{\\"a\\": 1}"}', "record 3: field 'vector' is not a non-empty list of numbers"),
        ('{"id": 9, "vector": [1, NaN]}', "record 3: field 'vector' holds NaN or infinity"),
        ('{"id": 9, "vector": [1, 1e400]}', "record 3: field 'vector' holds NaN or infinity"),
        ('{"id": 9, "vector": [1, 2, 3]}', "record 3: field 'vector' has dimension 3, but record 1's has dimension 2"),
        ('{"id": 9, "text": 5}', "record 3: field 'text' is not a string: 5"),
    ],
)
def test_bad_vectors_and_texts_are_refused_by_line(
    server: Running, tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, problem: str
) -> None:
    path = tmp_path / "v.jsonl"
    path.write_text('{"id": 1, "vector": [1, 2]}\n\n{"id": 2, "vector": [3, 4]}\n' + line + "\n")
    assert ingest(server, str(path), "--collection", "badvec") == 2
    assert capsys.readouterr().err == f"lexsent ingest: error: {path}:4: {problem}\n"
    assert "badvec" not in collection_names(server)
