"""The S3 REST API over the local object store, for ``stepfn serve``: what boto3's S3 client and
``aws s3`` call when a notebook or script talks to S3 itself (``boto3.client("s3").download_file(...)``,
``boto3.resource("s3").Bucket(b).Object(k).upload_fileobj(f)``) with the printed ``AWS_ENDPOINT_URL`` exported.

Requests are S3's when their SigV4 credential scope names the ``s3`` service (``Credential=<token>/<date>/
<region>/s3/aws4_request``): botocore addresses a bucket by path on an IP endpoint (``/bucket/key``), so S3
shares the port with the JSON APIs without its paths colliding with theirs (``/ping``, ``/endpoints/...``).

Served operations: ListBuckets, CreateBucket, HeadBucket, GetBucketLocation, ListObjects (v1 and v2, with
prefix, delimiter, pages and ``encoding-type=url``), PutObject (also ``aws-chunked`` bodies), CopyObject,
GetObject (with ``Range``), HeadObject, DeleteObject, DeleteObjects and multipart uploads (what
``upload_file`` uses above 8 MB). Objects are the files ``s3://bucket/key`` names in the local store
(:class:`~stepfn.local.objectstore.ObjectStore`), so a file put here is the one a training job reads, and a
job's output is what ``download_file`` gets. ETags are the MD5 of the content, as S3's for single-part objects.
Errors are S3's XML error documents (``NoSuchKey``, ``InvalidRange``, ...), which botocore turns into the
``ClientError`` a user's ``except`` expects. Every bucket exists, as everywhere in local stepfn (see
:meth:`S3Api._bucket_dir`).
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote, unquote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from stepfn.errors import StoreError
from stepfn.local.objectstore import ObjectNotFoundError, ObjectStore, settled

S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
_CHUNK = 1 << 20


class S3Error(Exception):
    """An S3 error document: its code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int, **fields: str) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.fields = code, message, status, fields

    def response(self, head: bool) -> Response:
        if head:  # HEAD answers carry no body; botocore reads the status alone
            return Response(status_code=self.status)
        extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in self.fields.items())
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{self.code}</Code>'
                f"<Message>{escape(self.message)}</Message>{extra}<RequestId>{uuid.uuid4().hex[:16].upper()}"
                "</RequestId></Error>")
        return Response(body, status_code=self.status, media_type="application/xml")


def _no_such_key(key: str) -> S3Error:
    return S3Error("NoSuchKey", "The specified key does not exist.", 404, Key=key)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


_ETAGS: dict[tuple[str, int, int, int], str] = {}
_ETAGS_KEPT = 20_000


def _md5_etag(path: Path) -> str:
    """The object's MD5, computed once per version of the file: s3fs and the AWS CLI ask HEAD before each read,
    and hashing a data set on every request would cost more than the read."""
    stat = path.stat()
    version = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    known = _ETAGS.get(version)
    if known is not None:
        return known
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    etag = f'"{digest.hexdigest()}"'
    if not settled(stat.st_mtime_ns):  # a rewrite in place in this tick of the file clock would keep its version
        return etag
    if len(_ETAGS) >= _ETAGS_KEPT:
        _ETAGS.clear()  # a bound, not an LRU: recomputing is only slower, never wrong
    _ETAGS[version] = etag
    return etag


def decode_aws_chunked(body: bytes) -> bytes:
    """The payload of an ``aws-chunked`` body (``<hex size>[;chunk-signature=...]\\r\\n<data>\\r\\n``, ended by
    a zero-size chunk and optional trailing checksum headers), which SDKs send for streaming uploads."""
    payload = bytearray()
    position = 0
    while True:
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            raise S3Error("IncompleteBody", "The aws-chunked body ended inside a chunk header", 400)
        try:
            size = int(body[position:line_end].split(b";", 1)[0].strip() or b"0", 16)
        except ValueError as error:
            raise S3Error("IncompleteBody", "An aws-chunked chunk size is not hexadecimal", 400) from error
        if size == 0:
            return bytes(payload)
        start = line_end + 2
        if start + size > len(body):
            raise S3Error("IncompleteBody", "The aws-chunked body is shorter than its chunk sizes", 400)
        payload += body[start:start + size]
        position = start + size + 2  # the chunk's trailing CRLF


class S3Api:
    """The ASGI app answering S3 requests for one object store."""

    def __init__(self, store: ObjectStore, uploads: Path) -> None:
        self.store = store
        self.uploads = uploads  # multipart uploads' parts, until completed or aborted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        head = request.method == "HEAD"
        try:
            response = await self._dispatch(request)
        except S3Error as error:
            response = error.response(head)
        except ObjectNotFoundError as error:
            response = _no_such_key(str(error)).response(head)
        except StoreError as error:
            response = S3Error("InvalidArgument", str(error), 400).response(head)
        await response(scope, receive, send)

    # -- routing ------------------------------------------------------------------------------------------

    async def _dispatch(self, request: Request) -> Response:
        bucket, _, key = request.url.path.lstrip("/").partition("/")
        query = request.query_params
        method = request.method
        if not bucket:
            if method == "GET":
                return await run_in_threadpool(self._list_buckets)
            raise S3Error("MethodNotAllowed", f"{method} / is not an S3 operation", 405)
        if not key:
            return await self._bucket_operation(request, bucket)
        if "uploads" in query and method == "POST":
            return self._create_multipart(bucket, key)
        if "uploadId" in query:
            return await self._multipart_operation(request, bucket, key, query["uploadId"])
        if method in ("GET", "HEAD"):
            return await run_in_threadpool(self._get_object, bucket, key, request.headers.get("range"),
                                           method == "HEAD")
        if method == "PUT":
            source = request.headers.get("x-amz-copy-source")
            if source:
                return await run_in_threadpool(self._copy_object, source, bucket, key)
            body = await self._payload(request)
            return await run_in_threadpool(self._put_object, bucket, key, body)
        if method == "DELETE":
            await run_in_threadpool(self.store.delete, f"s3://{bucket}/{key}")
            return Response(status_code=204)
        raise S3Error("MethodNotAllowed", f"{method} is not allowed on an object", 405)

    async def _bucket_operation(self, request: Request, bucket: str) -> Response:
        method, query = request.method, request.query_params
        if method == "PUT":
            self._bucket_dir(bucket, create=True)
            return Response(headers={"Location": f"/{bucket}"})
        if method == "HEAD":
            self._bucket_dir(bucket)
            return Response(headers={"x-amz-bucket-region": "us-east-1"})
        if method == "GET" and "location" in query:
            self._bucket_dir(bucket)
            return _xml("<LocationConstraint xmlns=\"" + S3_XMLNS + "\"></LocationConstraint>")
        if method == "GET":
            return await run_in_threadpool(self._list_objects, bucket, dict(query))
        if method == "POST" and "delete" in query:
            return await run_in_threadpool(self._delete_objects, bucket, await request.body())
        raise S3Error("NotImplemented", f"stepfn serve does not implement {method} on a bucket with "
                                        f"{sorted(query)}", 501)

    # -- buckets ------------------------------------------------------------------------------------------

    def _bucket_dir(self, bucket: str, *, create: bool = False) -> Path:
        """The bucket's folder. Every bucket exists locally, as for the rest of stepfn (a job writes to any
        bucket it names, and ``session.default_bucket()`` is never created by hand): a bucket nothing was put in
        lists empty instead of answering NoSuchBucket; CreateBucket makes its folder so ListBuckets shows it."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.\-_]{0,254}", bucket):
            raise S3Error("InvalidBucketName", "The specified bucket is not valid.", 400, BucketName=bucket)
        try:
            path = self.store.local_path(f"s3://{bucket}")
        except StoreError as error:
            raise S3Error("InvalidBucketName", str(error), 400, BucketName=bucket) from error
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path

    def _list_buckets(self) -> Response:
        root = self.store.root
        entries = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) \
            if root.is_dir() else []
        buckets = "".join(f"<Bucket><Name>{escape(p.name)}</Name><CreationDate>{_iso(p.stat().st_mtime)}"
                          "</CreationDate></Bucket>" for p in entries)
        return _xml(f'<ListAllMyBucketsResult xmlns="{S3_XMLNS}"><Owner><ID>stepfn</ID></Owner>'
                    f"<Buckets>{buckets}</Buckets></ListAllMyBucketsResult>")

    def _list_objects(self, bucket: str, query: dict[str, str]) -> Response:
        version2 = query.get("list-type") == "2"
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        url_encoded = query.get("encoding-type") == "url"
        try:
            # S3 never answers more than 1,000 keys a page, whatever max-keys asks: clients page on IsTruncated.
            max_keys = min(max(int(query.get("max-keys", "1000")), 0), 1000)
            token = query.get("continuation-token") if version2 else None
            after = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode() if token else \
                query.get("start-after" if version2 else "marker", "")
        except ValueError as error:  # binascii.Error and UnicodeDecodeError are ValueErrors too
            raise S3Error("InvalidArgument", f"Invalid max-keys or continuation token: {error}", 400) from error
        keys = sorted(uri[len(f"s3://{bucket}/"):] for uri, _ in self.store.iter_objects(f"s3://{bucket}/{prefix}")) \
            if self._bucket_dir(bucket).is_dir() else []
        entries: list[tuple[str, bool]] = []  # (key or common prefix, is a common prefix)
        truncated = False
        for key in keys:
            if key <= after:
                continue
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = key[:cut + len(delimiter)]
                    if entries and entries[-1] == (common, True):
                        continue
                    if common <= after:  # the page before ended inside this common prefix
                        continue
                    key, is_prefix = common, True
                else:
                    is_prefix = False
            else:
                is_prefix = False
            if len(entries) == max_keys:
                truncated = bool(entries)  # max-keys=0 asks for nothing, and S3 then says nothing is left out
                break
            entries.append((key, is_prefix))

        def name(value: str) -> str:
            return escape(quote(value, safe="/") if url_encoded else value)

        parts = [f'<ListBucketResult xmlns="{S3_XMLNS}"><Name>{escape(bucket)}</Name>',
                 f"<Prefix>{name(prefix)}</Prefix><MaxKeys>{max_keys}</MaxKeys>",
                 f"<IsTruncated>{str(truncated).lower()}</IsTruncated>"]
        if delimiter:
            parts.append(f"<Delimiter>{name(delimiter)}</Delimiter>")
        if url_encoded:
            parts.append("<EncodingType>url</EncodingType>")
        if version2:
            parts.append(f"<KeyCount>{len(entries)}</KeyCount>")
            if query.get("continuation-token"):
                parts.append(f"<ContinuationToken>{escape(query['continuation-token'])}</ContinuationToken>")
            if truncated:
                token = base64.urlsafe_b64encode(entries[-1][0].encode()).decode()
                parts.append(f"<NextContinuationToken>{token}</NextContinuationToken>")
        else:
            parts.append(f"<Marker>{name(after)}</Marker>")
            if truncated and delimiter:
                parts.append(f"<NextMarker>{name(entries[-1][0])}</NextMarker>")
        for key, is_prefix in entries:
            if is_prefix:
                parts.append(f"<CommonPrefixes><Prefix>{name(key)}</Prefix></CommonPrefixes>")
                continue
            path = self.store.local_path(f"s3://{bucket}/{key}")
            stat = path.stat()
            parts.append(f"<Contents><Key>{name(key)}</Key><LastModified>{_iso(stat.st_mtime)}</LastModified>"
                         f"<ETag>{escape(_md5_etag(path))}</ETag><Size>{stat.st_size}</Size>"
                         "<StorageClass>STANDARD</StorageClass></Contents>")
        parts.append("</ListBucketResult>")
        return _xml("".join(parts))

    def _delete_objects(self, bucket: str, body: bytes) -> Response:
        self._bucket_dir(bucket)
        try:
            document = ElementTree.fromstring(body)
        except ElementTree.ParseError as error:
            raise S3Error("MalformedXML", f"The Delete document is not XML: {error}", 400) from error
        deleted = []
        for element in document.iter():
            if element.tag.rsplit("}", 1)[-1] == "Key" and element.text:
                self.store.delete(f"s3://{bucket}/{element.text}")
                deleted.append(f"<Deleted><Key>{escape(element.text)}</Key></Deleted>")
        return _xml(f'<DeleteResult xmlns="{S3_XMLNS}">{"".join(deleted)}</DeleteResult>')

    # -- objects ------------------------------------------------------------------------------------------

    def _object_path(self, bucket: str, key: str) -> Path:
        self._bucket_dir(bucket)
        path = self.store.local_path(f"s3://{bucket}/{key}")
        if not path.is_file():
            raise _no_such_key(key)
        return path

    def _get_object(self, bucket: str, key: str, range_header: str | None, head: bool) -> Response:
        path = self._object_path(bucket, key)
        stat = path.stat()
        headers = {"ETag": _md5_etag(path), "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
                   "Accept-Ranges": "bytes"}
        start, end, status = 0, stat.st_size - 1, 200
        if range_header:
            match = _RANGE.match(range_header.strip())
            if match and (match.group(1) or match.group(2)):
                if match.group(1):
                    start = int(match.group(1))
                    end = min(int(match.group(2)), end) if match.group(2) else end
                else:  # bytes=-N: the last N bytes
                    start = max(stat.st_size - int(match.group(2)), 0)
                if start >= stat.st_size or start > end:
                    raise S3Error("InvalidRange", "The requested range is not satisfiable", 416,
                                  RangeRequested=range_header, ActualObjectSize=str(stat.st_size))
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{stat.st_size}"
        headers["Content-Length"] = str(max(end - start + 1, 0))
        media_type = "binary/octet-stream"
        if head:
            return Response(status_code=status, headers=headers, media_type=media_type)
        return StreamingResponse(_read_range(path, start, end + 1), status_code=status, headers=headers,
                                 media_type=media_type)

    async def _payload(self, request: Request) -> bytes:
        body = await request.body()
        chunked = "aws-chunked" in request.headers.get("content-encoding", "") or \
            request.headers.get("x-amz-content-sha256", "").startswith("STREAMING-")
        return decode_aws_chunked(body) if chunked else body

    def _put_object(self, bucket: str, key: str, body: bytes) -> Response:
        self._bucket_dir(bucket, create=True)  # locally any bucket a user names exists (as the store's paths do)
        self.store.put_bytes(f"s3://{bucket}/{key}", body)
        return Response(headers={"ETag": f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'})

    def _copy_object(self, source: str, bucket: str, key: str) -> Response:
        source_bucket, _, source_key = unquote(source.split("?", 1)[0]).lstrip("/").partition("/")
        self._object_path(source_bucket, source_key)
        self._bucket_dir(bucket, create=True)
        self.store.copy(f"s3://{source_bucket}/{source_key}", f"s3://{bucket}/{key}")
        path = self.store.local_path(f"s3://{bucket}/{key}")
        return _xml(f"<CopyObjectResult><ETag>{escape(_md5_etag(path))}</ETag>"
                    f"<LastModified>{_iso(path.stat().st_mtime)}</LastModified></CopyObjectResult>")

    # -- multipart uploads --------------------------------------------------------------------------------

    def _create_multipart(self, bucket: str, key: str) -> Response:
        self._bucket_dir(bucket, create=True)
        upload_id = uuid.uuid4().hex
        (self.uploads / upload_id).mkdir(parents=True)
        return _xml(f'<InitiateMultipartUploadResult xmlns="{S3_XMLNS}"><Bucket>{escape(bucket)}</Bucket>'
                    f"<Key>{escape(key)}</Key><UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>")

    async def _multipart_operation(self, request: Request, bucket: str, key: str, upload_id: str) -> Response:
        if not re.fullmatch(r"[0-9a-f]{32}", upload_id) or not (self.uploads / upload_id).is_dir():
            raise S3Error("NoSuchUpload", "The specified upload does not exist.", 404, UploadId=upload_id)
        folder = self.uploads / upload_id
        if request.method == "PUT":
            part = request.query_params.get("partNumber", "")
            number = int(part) if part.isdigit() else 0
            if not 1 <= number <= 10000:
                raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000", 400)
            body = await self._payload(request)
            # Off the event loop, as every other file operation here: a part may be gigabytes.
            await run_in_threadpool((folder / f"{number:05d}").write_bytes, body)
            return Response(headers={"ETag": f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'})
        if request.method == "DELETE":
            await run_in_threadpool(shutil.rmtree, folder, ignore_errors=True)
            return Response(status_code=204)
        if request.method == "POST":
            return await run_in_threadpool(self._complete_multipart, bucket, key, folder, await request.body())
        raise S3Error("MethodNotAllowed", f"{request.method} is not allowed on an upload", 405)

    def _complete_multipart(self, bucket: str, key: str, folder: Path, body: bytes) -> Response:
        try:
            document = ElementTree.fromstring(body) if body.strip() else None
        except ElementTree.ParseError as error:
            raise S3Error("MalformedXML", f"The CompleteMultipartUpload document is not XML: {error}", 400) from error
        texts = [(element.text or "").strip() for element in (document.iter() if document is not None else ())
                 if element.tag.rsplit("}", 1)[-1] == "PartNumber"]
        if not all(text.isdigit() for text in texts):
            raise S3Error("MalformedXML", "A PartNumber of the CompleteMultipartUpload document is not a number", 400)
        numbers = sorted(int(text) for text in texts)
        missing = [n for n in numbers if not (folder / f"{n:05d}").is_file()]
        if missing or not numbers:
            raise S3Error("InvalidPart", f"Parts {missing or 'none'} were not uploaded", 400)
        assembled = folder / "assembled"
        with assembled.open("wb") as out:
            for number in numbers:
                with (folder / f"{number:05d}").open("rb") as part:
                    shutil.copyfileobj(part, out, _CHUNK)
        self.store.upload(assembled, f"s3://{bucket}/{key}")
        etag = _md5_etag(assembled)[:-1] + f'-{len(numbers)}"'  # S3's multipart ETag form: <md5>-<parts>
        shutil.rmtree(folder, ignore_errors=True)
        return _xml(f'<CompleteMultipartUploadResult xmlns="{S3_XMLNS}"><Bucket>{escape(bucket)}</Bucket>'
                    f"<Key>{escape(key)}</Key><ETag>{escape(etag)}</ETag></CompleteMultipartUploadResult>")


def _read_range(path: Path, start: int, stop: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        remaining = stop - start
        while remaining > 0 and (block := handle.read(min(_CHUNK, remaining))):
            remaining -= len(block)
            yield block


def _xml(document: str) -> Response:
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + document, media_type="application/xml")


def create_s3_app(home: Path) -> S3Api:
    """The S3 API over ``<home>/s3`` (the store local jobs read and write)."""
    return S3Api(ObjectStore(home / "s3"), home / "s3-uploads")
