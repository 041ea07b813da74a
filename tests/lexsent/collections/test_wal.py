from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from lexsent.collections.fsio import Disk
from lexsent.collections.wal import Op, Record, WriteAheadLog, encode
from lexsent.errors import StorageCorruptError, StorageFullError

DIM = 3


def record(i: int) -> Record:
    vector = np.full((1, DIM), i, dtype=np.float32) + np.float32(0.1)
    return Record(Op.UPSERT, [f"p{i}"], [{"i": i, "text": "ü"}], vector)


def fresh(directory: Path, disk: Disk | None = None) -> tuple[WriteAheadLog, list[tuple[int, Record]]]:
    wal = WriteAheadLog(directory, DIM, disk or Disk())
    return wal, list(wal.replay(0))


def test_round_trip_is_bit_exact(tmp_path: Path) -> None:
    wal, _ = fresh(tmp_path)
    written = [record(i) for i in range(5)] + [Record(Op.DELETE, [3, "p1"], [], np.zeros((0, DIM), np.float32))]
    for rec in written:
        wal.append(rec)
    wal.close()
    wal, replayed = fresh(tmp_path)
    assert [seq for seq, _ in replayed] == [1, 2, 3, 4, 5, 6]
    for (_, got), want in zip(replayed, written, strict=True):
        assert got.op is want.op and got.ids == want.ids
        assert got.vectors.tobytes() == want.vectors.tobytes()
        if want.op is Op.UPSERT:
            assert got.metadata == want.metadata
    assert wal.append(record(9)) == 7


def test_replay_skips_records_covered_by_snapshot(tmp_path: Path) -> None:
    wal, _ = fresh(tmp_path)
    for i in range(4):
        wal.append(record(i))
    wal.close()
    replayed = list(WriteAheadLog(tmp_path, DIM, Disk()).replay(2))
    assert [seq for seq, _ in replayed] == [3, 4]


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_torn_or_corrupt_tail_is_cut_with_warning(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    wal, _ = fresh(tmp_path)
    for i in range(3):
        wal.append(record(i))
    intact = wal.size
    wal.append(record(3))
    wal.close()
    [segment] = list(tmp_path.iterdir())
    data = bytearray(segment.read_bytes())
    if damage == "truncate":
        data = data[: len(data) - 5]
    elif damage == "flip":
        data[-2] ^= 0xFF
    else:
        data += b"\x00garbage tail"
    segment.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        wal, replayed = fresh(tmp_path)
    expected = 4 if damage == "garbage" else 3
    assert [seq for seq, _ in replayed] == list(range(1, expected + 1))
    assert "torn last record" in caplog.text
    if damage != "garbage":
        assert segment.stat().st_size == intact
    # the log keeps working after the cut, and a second start sees no damage
    wal.append(record(7))
    wal.close()
    assert len(fresh(tmp_path)[1]) == expected + 1


@pytest.mark.parametrize("damage", ["payload byte", "length field"])
def test_damage_before_acknowledged_records_is_refused_and_left_alone(tmp_path: Path, damage: str) -> None:
    """A crash tears only the last record; a bad record that intact ones follow was acknowledged. A length
    running past the end looks like a torn write, but the intact records after it say otherwise."""
    wal, _ = fresh(tmp_path)
    for i in range(5):
        wal.append(record(i))
    wal.close()
    [segment] = list(tmp_path.iterdir())
    data = bytearray(segment.read_bytes())
    if damage == "payload byte":
        data[40] ^= 0xFF  # inside the first record's payload
    else:
        data[4:8] = (1 << 30).to_bytes(4, "little")  # the first record's payload length
    segment.write_bytes(bytes(data))
    with pytest.raises(StorageCorruptError, match="damaged at byte 0, and acknowledged writes follow it"):
        fresh(tmp_path)
    assert segment.read_bytes() == bytes(data)  # nothing cut


def test_a_frame_spelled_by_a_torn_records_vectors_does_not_block_the_start(tmp_path: Path) -> None:
    """Vectors are raw float32 bytes a caller chooses: they can spell a whole frame. A crash that tears
    such a record must still be cut, not taken for damage with acknowledged records after it."""
    wal, _ = fresh(tmp_path)
    wal.append(record(0))
    inner = encode(3, Record(Op.DELETE, [], [], np.zeros((0, DIM), np.float32)))  # seq 3: the very next one
    padded = inner + b"\0" * (-len(inner) % (4 * DIM))
    vectors = np.frombuffer(padded, dtype="<f4").reshape(-1, DIM).copy()
    ids = [f"v{i}" for i in range(len(vectors))]
    wal.append(Record(Op.UPSERT, ids, [None] * len(ids), vectors))
    wal.close()
    [segment] = list(tmp_path.iterdir())
    segment.write_bytes(segment.read_bytes()[:-3])  # the crash tore the last record after its vectors began
    wal, replayed = fresh(tmp_path)
    assert [seq for seq, _ in replayed] == [1]
    wal.close()


def two_segments(directory: Path) -> WriteAheadLog:
    """Records 1-2 in the first segment, 3 in the second; the log is left open."""
    wal, _ = fresh(directory)
    wal.append(record(0))
    wal.append(record(1))
    wal.rotate()
    wal.append(record(2))
    return wal


def test_damage_in_an_earlier_segment_is_refused(tmp_path: Path) -> None:
    two_segments(tmp_path).close()
    first, second = sorted(tmp_path.iterdir())
    first.write_bytes(first.read_bytes()[:-3])  # the last record of a segment that is not the last one
    with pytest.raises(StorageCorruptError, match="later segments"):
        fresh(tmp_path)
    assert second.exists()


def test_missing_records_are_refused(tmp_path: Path) -> None:
    wal, _ = fresh(tmp_path)
    for rotate_after in range(3):
        wal.append(record(rotate_after))
        wal.rotate()
    wal.append(record(3))
    wal.close()
    segments = sorted(tmp_path.iterdir())
    segments[0].unlink()  # as drop_through does once a snapshot covers record 1
    with pytest.raises(StorageCorruptError, match="records 1-1 are missing"):  # ... and the snapshot is gone
        list(WriteAheadLog(tmp_path, DIM, Disk()).replay(0))
    assert [seq for seq, _ in WriteAheadLog(tmp_path, DIM, Disk()).replay(1)] == [2, 3, 4]
    segments[2].unlink()  # a segment in the middle
    with pytest.raises(StorageCorruptError, match="a segment is missing"):
        list(WriteAheadLog(tmp_path, DIM, Disk()).replay(1))


def test_disk_full_append_leaves_log_unchanged(tmp_path: Path) -> None:
    calls = {"n": 0}

    def flaky(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 3:  # first half of the frame lands, then the disk is full
            os.write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")

        return os.write(fd, data)

    wal, _ = fresh(tmp_path, Disk(write=flaky))
    wal.append(record(0))
    wal.append(record(1))
    size = wal.size
    with pytest.raises(StorageFullError, match="disk full"):
        wal.append(record(2))
    assert wal.size == size == next(tmp_path.iterdir()).stat().st_size
    assert wal.append(record(3)) == 3
    wal.close()
    replayed = fresh(tmp_path)[1]
    assert [rec.ids for _, rec in replayed] == [["p0"], ["p1"], ["p3"]]


def test_rotation_and_drop(tmp_path: Path) -> None:
    wal = two_segments(tmp_path)
    assert len(list(tmp_path.iterdir())) == 2
    wal.drop_through(2)
    assert len(list(tmp_path.iterdir())) == 1
    wal.close()
    replayed = list(WriteAheadLog(tmp_path, DIM, Disk()).replay(2))
    assert [seq for seq, _ in replayed] == [3]
