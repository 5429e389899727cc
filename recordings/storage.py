"""Where recording files live: one small interface, a filesystem and an S3-compatible backend.

Writes are atomic: the bytes go to a temporary name and appear under their key only once
complete, so a worker killed mid-download leaves no half file behind a real key. Keys come from
Twilio SIDs (checked), never from anything a caller typed.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from config import Settings

SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
CHUNK = 64 * 1024


class StorageError(RuntimeError):
    """The store could not write, read or delete an object."""


@dataclass(frozen=True, slots=True)
class Stored:
    key: str
    size: int
    sha256: str


def key_for(sid: str, extension: str) -> str:
    """``RE/ab/REab….wav``: derived from the SID alone, fanned out over directories."""
    if not SID.match(sid):
        raise ValueError(f"not a recording SID: {sid!r}")
    if extension not in ("wav", "mp3"):
        raise ValueError(f"unexpected extension {extension!r}")
    return f"{sid[:2]}/{sid[2:4].lower()}/{sid}.{extension}"


class RecordingStore(Protocol):
    def put(self, key: str, chunks: Iterable[bytes]) -> Stored: ...
    def size(self, key: str) -> int: ...
    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...


class FilesystemStore:
    """Files under ``root``; temporary files in ``root/.tmp`` are renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / ".tmp"

    def put(self, key: str, chunks: Iterable[bytes]) -> Stored:
        target = self._path(key)
        self.tmp.mkdir(parents=True, exist_ok=True)
        partial = self.tmp / f"{Path(key).name}.{os.getpid()}.{time.monotonic_ns()}.part"
        digest, size = hashlib.sha256(), 0
        try:
            with partial.open("wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return Stored(key, size, digest.hexdigest())

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise StorageError(f"no object {key}") from exc

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``start``..``end`` inclusive (the whole file by default)."""
        try:
            handle: BinaryIO = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise StorageError(f"no object {key}") from exc
        return _chunks(handle, start, end)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def sweep_partials(self, older_than_s: float) -> int:
        """Remove temporary files left by killed workers."""
        if not self.tmp.is_dir():
            return 0
        cutoff, removed = time.time() - older_than_s, 0
        for partial in self.tmp.glob("*.part"):
            if partial.stat().st_mtime < cutoff:
                partial.unlink(missing_ok=True)
                removed += 1
        return removed

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise StorageError(f"key escapes the store: {key!r}")
        return path


def _chunks(handle: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
    with handle:
        handle.seek(start)
        remaining = None if end is None else end - start + 1
        while remaining is None or remaining > 0:
            chunk = handle.read(CHUNK if remaining is None else min(CHUNK, remaining))
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


class S3Store:
    """An S3-compatible bucket (AWS S3, MinIO, Ceph…). boto3 is imported only when used."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                 client: Any = None) -> None:  # fmt: skip
        self.bucket = bucket
        self.prefix = prefix
        if client is None:
            try:
                import boto3
            except ImportError as exc:
                raise StorageError("RECORDINGS_BACKEND=s3 needs boto3 (the s3 extra)") from exc
            client = boto3.client("s3", endpoint_url=endpoint_url)
        self._s3 = client

    def put(self, key: str, chunks: Iterable[bytes]) -> Stored:
        """Uploaded as one object: S3 makes it visible only when the upload completes."""
        digest, size = hashlib.sha256(), 0
        body = bytearray()
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            body.extend(chunk)
        self._s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=bytes(body),
                            Metadata={"sha256": digest.hexdigest()})  # fmt: skip
        return Stored(key, size, digest.hexdigest())

    def size(self, key: str) -> int:
        try:
            head = self._s3.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except Exception as exc:
            raise StorageError(f"no object {key}") from exc
        return int(head["ContentLength"])

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        byte_range = f"bytes={start}-{'' if end is None else end}"
        try:
            answer = self._s3.get_object(
                Bucket=self.bucket, Key=self.prefix + key, Range=byte_range
            )
        except Exception as exc:
            raise StorageError(f"no object {key}") from exc
        body = answer["Body"]
        return iter(lambda: body.read(CHUNK), b"")

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except StorageError:
            return False
        return True

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=self.prefix + key)


def make_store(settings: Settings) -> RecordingStore:
    if settings.recordings_backend == "s3":
        return S3Store(settings.s3_bucket or "", settings.s3_prefix, settings.s3_endpoint_url)
    return FilesystemStore(settings.effective_recordings_dir)
