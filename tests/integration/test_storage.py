"""Both storage backends through the same interface: a filesystem and S3 (moto's S3 server)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from recordings.storage import FilesystemStore, RecordingStore, S3Store, StorageError, key_for
from tests.conftest import free_port

DATA = bytes(range(256)) * 300
SID = "RE" + "c" * 32


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server (moto), the way MinIO or Ceph would answer."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(params=["fs", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> RecordingStore:
    if request.param == "fs":
        return FilesystemStore(tmp_path)
    import boto3

    endpoint = request.getfixturevalue("s3_endpoint")
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="ap-southeast-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    bucket = f"recordings-{uuid.uuid4().hex[:12]}"
    client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
    )
    return S3Store(bucket, prefix="hotline/", client=client)


def test_put_read_ranges_and_delete(store: RecordingStore) -> None:
    key = key_for(SID, "wav")
    stored = store.put(key, [DATA[:1000], DATA[1000:]])
    assert stored.size == len(DATA) and stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert store.exists(key) and store.size(key) == len(DATA)
    assert b"".join(store.read(key)) == DATA
    assert b"".join(store.read(key, 10, 19)) == DATA[10:20]
    assert b"".join(store.read(key, 76_000)) == DATA[76_000:]
    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(StorageError):
        store.size(key)


def test_a_failed_write_leaves_nothing_under_the_key(store: RecordingStore) -> None:
    key = key_for(SID, "mp3")

    def broken() -> Iterator[bytes]:
        yield DATA[:500]
        raise ConnectionError("download cut")

    with pytest.raises(ConnectionError):
        store.put(key, broken())
    assert not store.exists(key)


def test_keys_come_only_from_recording_sids() -> None:
    assert key_for(SID, "wav") == f"RE/cc/{SID}.wav"
    for bad in ("../../etc/passwd", "RE123", "CA" + "c" * 32, SID + "/x"):
        with pytest.raises(ValueError, match="not a recording SID"):
            key_for(bad, "wav")


def test_the_filesystem_store_stays_inside_its_root(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="escapes"):
        FilesystemStore(tmp_path / "root").size("../outside.wav")
