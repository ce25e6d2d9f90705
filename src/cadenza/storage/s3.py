"""Object store in an S3-compatible bucket (AWS S3, MinIO, Garage, ...), via boto3."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from cadenza.storage.base import ObjectStat, check_key


class S3Store:
    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"}),
        )

    def _k(self, key: str) -> str:
        return self.prefix + check_key(key)

    def put_file(
        self, key: str, path: Path, *, content_type: str | None = None, disposable: bool = False
    ) -> None:
        extra = {"ContentType": content_type} if content_type else None
        self.client.upload_file(str(path), self.bucket, self._k(key), ExtraArgs=extra)

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._k(key), "Body": data}
        if content_type:
            kwargs["ContentType"] = content_type
        self.client.put_object(**kwargs)

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._k(key))
            return True
        except ClientError:
            return False

    def size(self, key: str) -> int:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._k(key))
        except ClientError as exc:
            raise FileNotFoundError(key) from exc
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._k(key))

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._k(prefix.rstrip("/")) + "/"):
            keys.extend(obj["Key"][len(self.prefix) :] for obj in page.get("Contents", []))
        return sorted(keys)

    def scan(self, prefix: str = "") -> Iterator[tuple[str, ObjectStat]]:
        paginator = self.client.get_paginator("list_objects_v2")
        start = self._k(prefix.rstrip("/")) + "/" if prefix.strip("/") else self.prefix
        for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
            for obj in page.get("Contents", []):
                etag = str(obj.get("ETag") or "")
                yield (
                    obj["Key"][len(self.prefix) :],
                    ObjectStat(
                        size=int(obj["Size"]),
                        mtime=obj["LastModified"].timestamp(),
                        etag=etag if etag.startswith('"') else f'"{etag}"',
                    ),
                )

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list(prefix)
        for i in range(0, len(keys), 1000):
            batch = [{"Key": self.prefix + k} for k in keys[i : i + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return len(keys)

    def open(self, key: str) -> BinaryIO:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._k(key))
        except ClientError as exc:
            raise FileNotFoundError(key) from exc
        return cast(BinaryIO, obj["Body"])

    def stat(self, key: str) -> ObjectStat:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._k(key))
        except ClientError as exc:
            raise FileNotFoundError(key) from exc
        etag = str(head.get("ETag") or "")
        return ObjectStat(
            size=int(head["ContentLength"]),
            mtime=head["LastModified"].timestamp(),
            etag=etag if etag.startswith('"') else f'"{etag}"',
        )

    def read_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._k(key), Range=f"bytes={start}-{end}")
        except ClientError as exc:
            raise FileNotFoundError(key) from exc
        body = obj["Body"]
        try:
            yield from body.iter_chunks(512 * 1024)
        finally:
            body.close()

    @contextmanager
    def fetch(self, key: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="cadenza-fetch-") as tmp:
            path = Path(tmp) / Path(key).name
            try:
                self.client.download_file(self.bucket, self._k(key), str(path))
            except ClientError as exc:
                raise FileNotFoundError(key) from exc
            yield path

    def local_path(self, key: str) -> Path | None:
        return None
