"""`lexsent ingest FILE --collection NAME`: load JSONL, CSV or plain text into a collection.

It talks to a running server over HTTP (the lexsent client) rather than opening the store directly:
the server owns the data directory (one process at a time holds its lock), texts must be encoded by
the very model the collection is bound to (the server has it loaded and batches it), and API keys
apply to ingestion like to any other write. Each batch is acknowledged only once it is durable.

Resumable by id: ingestion acknowledges batches in file order, so after an interruption the points
already stored form a prefix of the file. A re-run finds the end of that prefix with a binary search
over `fetch` (a few requests, no side files) and continues from there; upserts are idempotent, so
re-sending a batch that was in flight is harmless.

Ids alone do not show that a stored point came from *this* file: positional ids (1, 2, 3 …) and line
numbers are the same in every file, so a second file loaded into the same collection would look like
a finished first part of itself. So a resume is accepted only when every point the search fetched,
and 16 spread evenly over the prefix (its first and last among them), is its record as a collection
keeps it: the same id (and id type), the same metadata, and the same vector — bit for bit for a
`vector` record; for a `text` record, the text encoded again by the collection's model, within the
noise of batching (cosine at least 1 - max(1e-4, 2 × (1 - the bundle's parity min_cosine)): about
0.9999 for fp32 bundles and 0.966 for int8 ones, whose outputs move with what they are batched with).
Texts are not stored, so vector and metadata are all a stored point can be compared by. A mismatch is
refused before anything is sent, naming the id; `--restart` upserts every record from the first
instead, replacing stored points with the same ids. The check samples the prefix rather than reading
it all back (that would cost about as much as ingesting it again), so a file edited between runs,
rather than appended to, needs `--restart`.

Records are read by `cli.ingest_records` (fields, formats, per-line errors).

A missing collection is created to fit the file: a file of vectors only (and no `--model`) gets a
plain-vector collection of their dimension; a file with texts gets one bound to `--model` (or the
default), and any vectors beside the texts must have that model's dimension (the server takes both
kinds in one collection). What an existing collection would refuse — texts for a plain-vector one, a
vector of another dimension — is refused before anything is sent, and a collection this run created is
deleted again, if still empty, when the server refuses the first upsert (e.g. an all-zero vector for
cosine), so a refused run leaves no empty collection behind.

Some checks only the server makes (a vector's norm for ip/l2, an all-zero one for cosine, metadata depth
and size, a text too long for the model). Its message names the point's position in the request
("vector 3 (0-based)", "points[3].text"); a refused batch is reported by the records of the file it held,
with such a position turned into the file's record number, and, when earlier batches were stored, how
many are, which a re-run skips (the resume above).
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.ingest_records import InputFormat, input_format, records
from lexsent.errors import InvalidInputError

if TYPE_CHECKING:
    from lexsent_client import Client
    from lexsent_client.types import CollectionInfo, ModelInfo, Point


SAMPLES = 16  # stored points a resume checks besides the binary search's, spread evenly over the prefix
# HTTP statuses of a refused upsert that are the records' fault (ingest talks HTTP only): not auth, a
# missing collection, a full queue or a draining server, which a batch's range would only mislead about.
RECORDS_FAULT = {400, 413, 422}
# How the server names a point of a request: "vector 3 (0-based)", "metadata 3 (0-based)" (the collection's
# checks), "points[3]", "points[3].text" (the service's). Nothing else is rewritten.
_POSITION = re.compile(r"\b(vector|metadata) (\d+) \(0-based\)|\bpoints\[(\d+)\](?:\.(text|vector)\b)?")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("ingest", help="upsert a JSONL/CSV/text file into a collection on a running server")
    parser.add_argument("file", type=Path)
    parser.add_argument("--collection", required=True, help="target collection (created when missing)")
    parser.add_argument("--format", choices=[f.value for f in InputFormat], help="default: from the suffix")
    parser.add_argument("--batch-size", type=int, default=64, help="points per durable upsert request")
    parser.add_argument("--id-field", default="id")
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--vector-field", default="vector")
    parser.add_argument("--url", default=os.environ.get("LEXSENT_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--api-key", default=os.environ.get("LEXSENT_API_KEY"), help="or LEXSENT_API_KEY")
    parser.add_argument(
        "--model",
        help="when creating: served model bound to the collection (default: the default model; a file of vectors"
        " only, without --model, gets a plain-vector collection of their dimension)",
    )
    parser.add_argument("--index", choices=["flat", "ivf", "hnsw"], default="flat", help="when creating")
    parser.add_argument("--metric", choices=["cosine", "ip", "l2"], default="cosine", help="when creating")
    parser.add_argument(
        "--restart",
        action="store_true",
        help="upsert every record from the first instead of resuming after the stored ones; upserts replace"
        " stored points with the same ids (use it after editing the file, or to overwrite another file's points)",
    )
    parser.set_defaults(func=run)


def stored_prefix(client: Client, collection: str, ids: list[Any]) -> tuple[int, dict[int, Point]]:
    """How many leading ids are stored (binary search; stored points form a prefix), and the points the
    search fetched on the way, by position: those it found present, which the resume then checks."""
    from lexsent_client import LexsentClientError

    fetched: dict[int, Point] = {}

    def present(i: int) -> bool:
        try:
            fetched[i] = client.fetch(collection, ids[i])
            return True
        except LexsentClientError as exc:
            if exc.status == 404:
                return False
            raise

    low, high = 0, len(ids)  # invariant: ids[:low] present, ids[high:] absent
    while low < high:
        middle = (low + high) // 2
        if present(middle):
            low = middle + 1
        else:
            high = middle
    return low, fetched


def resume_point(
    client: Client, info: CollectionInfo, ids: list[Any], load: Callable[[set[int]], dict[int, dict[str, Any]]]
) -> tuple[int, int]:
    """(records to skip, how many stored points were checked against the file): the stored prefix, once
    every point the search fetched and SAMPLES spread over it, the first and last included, are this file's
    records (module docstring); `load(positions)` reads those from the file. A point that is not is refused."""
    start, fetched = stored_prefix(client, info.name, ids)
    if start == 0:
        return 0, 0
    spread = {(start - 1) * k // (SAMPLES - 1) for k in range(SAMPLES)}  # the first and last stored among them
    for position in spread - fetched.keys():
        fetched[position] = client.fetch(info.name, ids[position])
    wanted = load(set(fetched))
    texts = sorted(p for p in fetched if "text" in wanted[p])
    vectors: dict[int, list[float]] = {}
    floor = 1.0
    if texts:
        served = _served_model(client, info)
        floor = 1 - max(1e-4, 2 * (1 - served.parity.min_cosine))
        encoded = client.embed([wanted[p]["text"] for p in texts], model=served.name).vectors
        vectors = dict(zip(texts, encoded, strict=True))
    for position in sorted(fetched):
        problem = _difference(wanted[position], fetched[position], vectors.get(position), floor)
        if problem:
            raise InvalidInputError(
                f"collection {info.name!r} already holds id {ids[position]!r} with different content (from "
                f"another file?): {problem}, so it is not record {position + 1} of this file; pass --restart to "
                "upsert every record from the first (replacing stored points with the same ids), or ingest into "
                "another collection, or give the records ids of their own"
            )
    return start, len(fetched)


def _difference(record: dict[str, Any], stored: Point, encoded: list[float] | None, floor: float) -> str | None:
    """How `stored` differs from the point `record` would make, or None where it does not."""
    import numpy as np

    if type(stored.id) is not type(record["id"]):
        kind = "string" if isinstance(stored.id, str) else "integer"
        return f"the stored id is the {kind} {stored.id!r}"
    if (stored.metadata or {}) != record.get("metadata", {}):
        return "its metadata differs"
    vector = np.asarray(stored.vector, dtype=np.float32)
    if encoded is None:
        expected = np.asarray(record["vector"], dtype=np.float32)
        if vector.shape != expected.shape or vector.tobytes() != expected.tobytes():
            return "its vector differs"
        return None
    again = np.asarray(encoded, dtype=np.float32)
    norms = float(np.linalg.norm(vector) * np.linalg.norm(again))
    cosine = float(vector @ again) / norms if vector.shape == again.shape and norms > 0 else 0.0
    if cosine < floor:
        return f"its vector is not this record's text encoded again (cosine {cosine:.4f} < {floor:.4f})"
    return None


def _served_model(client: Client, info: CollectionInfo) -> ModelInfo:
    """The served bundle that encodes `info`'s texts (the one it was filled by)."""
    served = {model.name: model for model in client.models()}
    model = served.get(info.model or "")
    if model is None:
        raise InvalidInputError(
            f"collection {info.name!r} was filled by model {info.model!r}, which this server does not serve"
            f" (it serves {', '.join(sorted(served)) or 'none'}); serve that bundle to ingest texts into it"
        )
    if model.fingerprint != info.model_fingerprint:
        raise InvalidInputError(
            f"collection {info.name!r} was filled by model {info.model!r} with fingerprint "
            f"{(info.model_fingerprint or '')[:12]}…, but the served one has fingerprint {model.fingerprint[:12]}…;"
            " serve the original bundle, or ingest into a new collection"
        )
    return model


def run(args: argparse.Namespace) -> int:
    import httpx
    from lexsent_client import LexsentClientError

    try:
        return _ingest(args)
    except LexsentClientError as exc:
        raise InvalidInputError(f"the server refused the request: {exc}") from None
    except httpx.TransportError as exc:
        raise InvalidInputError(f"cannot reach {args.url} ({exc}); is `lexsent serve` running?") from None


def _refuse_repeats(ids: list[Any]) -> None:
    """Before anything is sent: a repeated id would overwrite an earlier record, and the resume's
    binary search assumes that the stored points are exactly a prefix of the file."""
    from lexsent.collections.ids import first_repeat, validate_id

    for position, point_id in enumerate(ids, 1):
        try:
            validate_id(point_id)
        except InvalidInputError as exc:
            raise InvalidInputError(f"record {position}: {exc.message}") from None
    repeat = first_repeat(ids)
    if repeat is not None:
        first, second = repeat
        raise InvalidInputError(f"record {second + 1} repeats the id {ids[second]!r} of record {first + 1}")


@dataclass(frozen=True)
class Survey:
    """What the checking pass learns about a file: its ids, and where its first text and vector records are."""

    ids: list[Any]
    first_text: int | None = None  # 0-based positions
    first_vector: int | None = None
    dim: int | None = None  # every vector's (records() refuses others)


def survey(path: Path, fmt: InputFormat, args: argparse.Namespace) -> Survey:
    ids: list[Any] = []
    first_text = first_vector = dim = None
    for position, point in enumerate(records(path, fmt, args)):
        ids.append(point["id"])
        if "text" in point and first_text is None:
            first_text = position
        if "vector" in point and first_vector is None:
            first_vector, dim = position, len(point["vector"])
    return Survey(ids, first_text, first_vector, dim)


def _create(client: Client, args: argparse.Namespace, found: Survey) -> None:
    """A collection for the file: plain vectors of the file's dimension when it holds only vectors and no
    --model is named, else bound to --model (or the default), whose dimension its vectors must have."""
    if found.first_vector is not None and found.first_text is None and args.model is None:
        client.create_collection(args.collection, dim=found.dim, index=args.index, metric=args.metric)
        return
    if found.first_vector is not None:
        models = client.models()
        model = next((m for m in models if (m.name == args.model if args.model else m.is_default)), None)
        if model is not None and model.dim != found.dim:
            which = f"model {model.name!r}" if args.model else f"the default model {model.name!r}"
            why = "" if args.model else " (its texts need a model)"
            raise InvalidInputError(
                f"record {found.first_vector + 1}'s vector has dimension {found.dim}, but {which}, which a new"
                f" collection {args.collection!r} would be bound to{why}, has dimension {model.dim};"
                " nothing was created"
            )
    client.create_collection(args.collection, model=args.model, index=args.index, metric=args.metric)


def _check_fits(info: CollectionInfo, found: Survey) -> None:
    """Before anything is sent to an existing collection: what it would refuse."""
    if info.model is None and found.first_text is not None:
        raise InvalidInputError(
            f"collection {info.name!r} holds plain vectors (no model), but record {found.first_text + 1} has"
            " text; give every record a vector, or ingest into a collection bound to a model"
        )
    if found.first_vector is not None and found.dim != info.dim:
        raise InvalidInputError(
            f"record {found.first_vector + 1}'s vector has dimension {found.dim}, but collection {info.name!r}"
            f" stores dimension {info.dim}"
        )


def _drop_if_empty(client: Client, name: str) -> bool:
    """Delete `name`, which this run created, if nothing is stored in it; whether it did."""
    import httpx
    from lexsent_client import LexsentClientError

    try:
        if client.get_collection(name).count == 0:
            client.delete_collection(name)
            return True
    except (LexsentClientError, httpx.TransportError):
        pass
    return False


def _records(first: int, last: int) -> str:
    """'records 2001–3000' (1-based, inclusive), or 'record 7' for one."""
    return f"record {first}" if first == last else f"records {first}–{last}"


def in_file_terms(message: str, start: int, size: int) -> str:
    """The server's `message` about a batch of `size` records whose first is the file's record `start`
    (1-based), with each position in the request that it names ("vector 3 (0-based)", "points[3].text")
    written as the file's record ("record 2004's vector"); one out of the batch's range is left as it is."""

    def record(match: re.Match[str]) -> str:
        what, row, point_row, field = match.groups()
        position = int(row if row is not None else point_row)
        if position >= size:
            return match.group(0)
        number = start + position
        part = what or field
        return f"record {number}'s {part}" if part else f"record {number}"

    return _POSITION.sub(record, message)


def _ingest(args: argparse.Namespace) -> int:
    from lexsent_client import Client, LexsentClientError
    from tqdm import tqdm

    if args.batch_size < 1:
        raise InvalidInputError("--batch-size must be at least 1")
    fmt = input_format(args.file, args.format)
    # A first pass parses every record and checks every id, so a bad line is refused before anything is sent.
    found = survey(args.file, fmt, args)
    ids = found.ids
    _refuse_repeats(ids)

    def load(positions: set[int]) -> dict[int, dict[str, Any]]:
        return {i: point for i, point in enumerate(records(args.file, fmt, args)) if i in positions}

    with Client(args.url, api_key=args.api_key) as client:
        created = False
        try:
            info = client.get_collection(args.collection)
        except LexsentClientError as exc:
            if exc.status != 404:
                raise
            _create(client, args, found)
            created = True
            start = 0
        else:
            _check_fits(info, found)
            start, checked = (0, 0) if args.restart else resume_point(client, info, ids, load)
            if start:
                print(
                    f"resuming: the first {start} of {len(ids)} points are already stored"
                    f" ({checked} of them checked against the file)"
                )
        sent = 0

        def send(batch: list[dict[str, Any]], first: int) -> int:
            """Upsert `batch`, whose first record is the file's 0-based `first`."""
            nonlocal sent
            try:
                count = client.upsert(args.collection, batch)
            except LexsentClientError as exc:
                if exc.status in RECORDS_FAULT:
                    held = _records(first + 1, first + len(batch))
                    problem = f"{exc.status} {exc.type}: {in_file_terms(exc.message, first + 1, len(batch))}"
                    refusal = f"the server refused {held} of {args.file}: {problem}"
                else:
                    refusal = f"the server refused the request: {exc}"
                # refused before anything was stored: leave no empty collection behind, only the one made here
                if created and not sent and _drop_if_empty(client, args.collection):
                    raise InvalidInputError(
                        f"{refusal}; the collection {args.collection!r} this run had created was deleted again"
                    ) from None
                # batches are stored in file order and a refused one not at all: the first `first` records
                # are stored, the prefix a re-run's resume_point finds and skips
                if first:
                    one = first == 1
                    refusal += (
                        f"; {_records(1, first)} of {len(ids)} {'is' if one else 'are'} already stored, and a"
                        f" re-run (without --restart) resumes after {'it' if one else 'them'}"
                    )
                raise InvalidInputError(refusal) from None
            sent += count
            return count

        batch: list[dict[str, Any]] = []
        batch_start = start  # 0-based position of batch[0] in the file
        with tqdm(total=len(ids), initial=start, unit="pt", desc=f"ingest {args.collection}") as bar:
            for position, point in enumerate(records(args.file, fmt, args)):
                if position < start:
                    continue
                if not batch:
                    batch_start = position
                batch.append(point)
                if len(batch) >= args.batch_size:
                    bar.update(send(batch, batch_start))
                    batch = []
            if batch:
                bar.update(send(batch, batch_start))
        print(f"{args.collection}: {client.get_collection(args.collection).count} points")
    return 0
