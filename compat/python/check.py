"""The official Python SDK (lark-oapi) against a feishu-media server, base URL changed only.

Usage: check.py BASE_URL FIXTURES_DIR. Exits non-zero on the first failed check.
"""
import json
import os
import sys

import lark_oapi as lark
from lark_oapi.api.drive.v1 import DownloadMediaRequest

base, fixtures = sys.argv[1], sys.argv[2]
image = open(os.path.join(fixtures, "架构图.png"), "rb").read()
large = open(os.path.join(fixtures, "large.bin"), "rb").read()

client = (
    lark.Client.builder()
    .app_id("cli_compat")
    .app_secret("compat-secret")
    .domain(base)
    .log_level(lark.LogLevel.WARNING)
    .build()
)

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   python: {name}")
    else:
        failed += 1
        print(f"FAIL python: {name} {detail}")


def download(token, option=None, extra=None):
    b = DownloadMediaRequest.builder().file_token(token)
    if extra is not None:
        b = b.extra(extra)
    return client.drive.v1.media.download(b.build(), option) if option else client.drive.v1.media.download(b.build())


# Whole download with a tenant token fetched by the SDK itself.
r = download("boxcnCompatImage")
check("download succeeds", r.success(), f"code={r.code} msg={r.msg}")
check("bytes are identical", r.file is not None and r.file.read() == image)
check("file_name is the stored Chinese name", r.file_name == "架构图.png", repr(r.file_name))

# A larger media, whole and by Range.
r = download("boxcnCompatLarge")
check("300 KiB download is identical", r.success() and r.file.read() == large)
opt = lark.RequestOption.builder().headers({"Range": "bytes=1000-5095"}).build()
r = download("boxcnCompatLarge", opt)
check("Range answers 206", r.raw.status_code == 206, str(r.raw.status_code))
check("Range bytes are the slice", r.success() and r.file.read() == large[1000:5096])
check(
    "Content-Range is exact",
    r.raw.headers.get("Content-Range") == f"bytes 1000-5095/{len(large)}",
    repr(r.raw.headers.get("Content-Range")),
)

# A user access token passed per request. lark-oapi sends it only from a client built
# with enable_set_token(True) (else it quietly sends the tenant token); a user token
# without a download scope proves it was sent: the tenant token would have passed.
user_client = (
    lark.Client.builder()
    .app_id("cli_compat")
    .app_secret("compat-secret")
    .domain(base)
    .enable_set_token(True)
    .log_level(lark.LogLevel.WARNING)
    .build()
)
as_user = lambda token: user_client.drive.v1.media.download(
    DownloadMediaRequest.builder().file_token("boxcnCompatImage").build(),
    lark.RequestOption.builder().user_access_token(token).build(),
)
r = as_user("u-compat")
check("user token download", r.success() and r.file.read() == image, f"code={r.code}")
r = as_user("u-compat-noscope")
check("the user token is what was sent", r.code == 99991679, f"code={r.code} msg={r.msg}")

# Errors reach the SDK as codes (it parses the body only when Content-Type says JSON).
r = download("boxcnNoSuchMedia")
check("unknown media gives 1061003", (not r.success()) and r.code == 1061003, f"code={r.code} msg={r.msg}")
check("error carries the log id", r.raw.headers.get("X-Tt-Logid") is not None)

# Bitable with advanced permissions: extra required, then accepted.
r = download("boxcnCompatBitable")
check("bitable without extra gives 1061002", r.code == 1061002, f"code={r.code}")
extra = json.dumps(
    {"bitablePerm": {"tableId": "tblCompat", "attachments": {"fldCompat": {"recCompat": ["boxcnCompatBitable"]}}}}
)
r = download("boxcnCompatBitable", extra=extra)
check("bitable with extra", r.success() and r.file.read() == b"a,b\n1,2\n", f"code={r.code} msg={r.msg}")
check("bitable file_name", r.file_name == "表格附件.csv", repr(r.file_name))

# --- uploads and temporary links ---------------------------------------------------------
import io
import urllib.request
import zlib

from lark_oapi.api.drive.v1 import (
    BatchGetTmpDownloadUrlMediaRequest,
    MediaUploadInfo,
    UploadAllMediaRequest,
    UploadAllMediaRequestBody,
    UploadFinishMediaRequest,
    UploadFinishMediaRequestBody,
    UploadPartMediaRequest,
    UploadPartMediaRequestBody,
    UploadPrepareMediaRequest,
)

docx_extra = json.dumps({"drive_route_token": "doxcnCompat"})
body = (
    UploadAllMediaRequestBody.builder()
    .file_name("上传的图.png")
    .parent_type("docx_image")
    .parent_node("blkCompat")
    .size(len(image))
    .checksum(str(zlib.adler32(image)))
    .extra(docx_extra)
    .file(io.BytesIO(image))
    .build()
)
r = client.drive.v1.media.upload_all(UploadAllMediaRequest.builder().request_body(body).build())
check("upload_all with checksum and extra", r.success(), f"code={r.code} msg={r.msg}")
uploaded = r.data.file_token if r.success() else ""
r = download(uploaded)
check("uploaded media downloads identical", r.success() and r.file.read() == image)
check("uploaded media keeps its name", r.file_name == "上传的图.png", repr(r.file_name))

bad = (
    UploadAllMediaRequestBody.builder()
    .file_name("x.bin").parent_type("docx_file").parent_node("blkCompat")
    .size(3).checksum("1").extra(docx_extra).file(io.BytesIO(b"abc")).build()
)
r = client.drive.v1.media.upload_all(UploadAllMediaRequest.builder().request_body(bad).build())
check("wrong checksum gives 1062008", r.code == 1062008, f"code={r.code}")

# Chunked: 2 blocks of the 300 KiB file would need 4 MiB blocks; send a 4 MiB + tail file.
big = large * 14 + b"tail"  # 4.2 MiB: two blocks
info = (
    MediaUploadInfo.builder()
    .file_name("big.bin").parent_type("docx_file").parent_node("blkCompat")
    .size(len(big)).extra(docx_extra).build()
)
r = client.drive.v1.media.upload_prepare(UploadPrepareMediaRequest.builder().request_body(info).build())
check("upload_prepare", r.success() and r.data.block_num == 2 and r.data.block_size == 4194304, f"code={r.code}")
upload_id = r.data.upload_id if r.success() else ""
for seq in (1, 0):
    chunk = big[seq * 4194304:(seq + 1) * 4194304]
    part = (
        UploadPartMediaRequestBody.builder()
        .upload_id(upload_id).seq(seq).size(len(chunk)).checksum(str(zlib.adler32(chunk)))
        .file(io.BytesIO(chunk)).build()
    )
    r = client.drive.v1.media.upload_part(UploadPartMediaRequest.builder().request_body(part).build())
    check(f"upload_part seq {seq}", r.success(), f"code={r.code} msg={r.msg}")
fin = UploadFinishMediaRequestBody.builder().upload_id(upload_id).block_num(2).build()
r = client.drive.v1.media.upload_finish(UploadFinishMediaRequest.builder().request_body(fin).build())
check("upload_finish", r.success(), f"code={r.code} msg={r.msg}")
chunked = r.data.file_token if r.success() else ""
r = download(chunked)
check("chunked upload downloads identical", r.success() and r.file.read() == big)

r = client.drive.v1.media.batch_get_tmp_download_url(
    BatchGetTmpDownloadUrlMediaRequest.builder().file_tokens(["boxcnCompatImage", chunked]).build()
)
check("batch_get_tmp_download_url", r.success() and len(r.data.tmp_download_urls) == 2, f"code={r.code} msg={r.msg}")
if r.success():
    urls = {u.file_token: u.tmp_download_url for u in r.data.tmp_download_urls}
    got = urllib.request.urlopen(urls["boxcnCompatImage"]).read()
    check("temporary link serves the bytes without a token", got == image)
    req = urllib.request.Request(urls[chunked], headers={"Range": "bytes=-4"})
    check("temporary link honours Range", urllib.request.urlopen(req).read() == b"tail")
r = client.drive.v1.media.batch_get_tmp_download_url(
    BatchGetTmpDownloadUrlMediaRequest.builder().file_tokens(["boxcnCompatBitable"]).extra(extra).build()
)
check("temporary link for a bitable with extra", r.success(), f"code={r.code} msg={r.msg}")

# --- documents: list first, download second, as integrations do ---------------------------
import urllib.parse

from lark_oapi.api.bitable.v1 import SearchAppTableRecordRequest, SearchAppTableRecordRequestBody
from lark_oapi.api.docx.v1 import GetDocumentRequest, ListDocumentBlockRequest
from lark_oapi.api.drive.v1 import DownloadFileRequest

r = client.docx.v1.document.get(GetDocumentRequest.builder().document_id("doxcnCompat").build())
check("docx document", r.success() and r.data.document.title == "兼容性文档", f"code={r.code} msg={r.msg}")

blocks, page_token, pages = [], None, 0
while True:
    b = ListDocumentBlockRequest.builder().document_id("doxcnCompat").page_size(2)
    if page_token:
        b = b.page_token(page_token)
    r = client.docx.v1.document_block.list(b.build())
    if not r.success():
        check("docx blocks page", False, f"code={r.code} msg={r.msg}")
        break
    pages += 1
    blocks += r.data.items
    if not r.data.has_more:
        break
    page_token = r.data.page_token
check("docx blocks across pages", pages >= 3 and blocks[0].block_type == 1, f"{pages} pages")
ids = [b.block_id for b in blocks]
check("declared blocks in order", ids[:5] == ["doxcnCompat", "blkCompatH1", "blkCompatImg", "blkCompatText", "blkCompatFile"], repr(ids))
images = [b for b in blocks if b.block_type == 27]
check("image blocks carry tokens", len(images) >= 1 and images[0].image.token == "boxcnCompatImage", repr([i.image.token for i in images]))
for blk in images:
    r = download(blk.image.token)
    check(f"image block {blk.block_id} downloads", r.success() and r.file.read()[:8] == image[:8] and r.file_name, f"code={r.code}")
files = [b for b in blocks if b.block_type == 23]
check("file block names its media", files and files[0].file.token == "boxcnCompatLarge" and files[0].file.name == "large.bin")
r = download(files[0].file.token)
check("file block media downloads identical", r.success() and r.file.read() == large and r.file_name == "large.bin")

# Bitable records: each attachment through its url (with the extra it carries) and its
# tmp_url, by the SDK and by plain HTTP with the SDK's own tenant token.
body = SearchAppTableRecordRequestBody.builder().build()
r = client.bitable.v1.app_table_record.search(
    SearchAppTableRecordRequest.builder().app_token("bascnCompat").table_id("tblCompat").page_size(1).request_body(body).build()
)
check("bitable search page 1", r.success() and r.data.has_more and r.data.total == 2, f"code={r.code} msg={r.msg}")
records = list(r.data.items) if r.success() else []
if r.success():
    r2 = client.bitable.v1.app_table_record.search(
        SearchAppTableRecordRequest.builder().app_token("bascnCompat").table_id("tblCompat")
        .page_size(1).page_token(r.data.page_token).request_body(body).build()
    )
    check("bitable search page 2", r2.success() and not r2.data.has_more, f"code={r2.code}")
    records += r2.data.items if r2.success() else []
check("bitable records", [x.record_id for x in records] == ["recCompat", "recCompat2"], repr([x.record_id for x in records]))
tenant = json.load(urllib.request.urlopen(urllib.request.Request(
    f"{base}/open-apis/auth/v3/tenant_access_token/internal", method="POST",
    data=json.dumps({"app_id": "cli_compat", "app_secret": "compat-secret"}).encode(),
    headers={"Content-Type": "application/json"})))["tenant_access_token"]
want = {"boxcnCompatBitable": b"a,b\n1,2\n", "boxcnCompatBitable2": image}
for rec in records:
    for att in rec.fields.get("附件", []):
        token = att["file_token"]
        q = urllib.parse.parse_qs(urllib.parse.urlparse(att["url"]).query)
        r = download(token, extra=q["extra"][0])
        check(f"{token} through url's extra (SDK)", r.success() and r.file.read() == want[token] and r.file_name == att["name"], f"code={r.code}")
        raw = urllib.request.urlopen(urllib.request.Request(att["url"], headers={"Authorization": f"Bearer {tenant}"})).read()
        check(f"{token} through url (HTTP)", raw == want[token])
        q = urllib.parse.parse_qs(urllib.parse.urlparse(att["tmp_url"]).query)
        r = client.drive.v1.media.batch_get_tmp_download_url(
            BatchGetTmpDownloadUrlMediaRequest.builder().file_tokens(q["file_tokens"]).extra(q["extra"][0]).build()
        )
        ok = r.success() and urllib.request.urlopen(r.data.tmp_download_urls[0].tmp_download_url).read() == want[token]
        check(f"{token} through tmp_url", ok, f"code={r.code} msg={r.msg}")

# A drive file: whole, and by range.
r = client.drive.v1.file.download(DownloadFileRequest.builder().file_token("boxcnCompatDrive").build())
check("drive file download", r.success() and r.file.read() == large and r.file_name == "合同.bin", f"code={r.code} {r.file_name!r}")
opt = lark.RequestOption.builder().headers({"Range": "bytes=100-199"}).build()
r = client.drive.v1.file.download(DownloadFileRequest.builder().file_token("boxcnCompatDrive").build(), opt)
check("drive file by range", r.raw.status_code == 206 and r.file.read() == large[100:200], str(r.raw.status_code))

# Sheets by plain HTTP (the SDK has no v2 call).
got = json.load(urllib.request.urlopen(urllib.request.Request(
    f"{base}/open-apis/sheets/v2/spreadsheets/shtcnCompat/values_batch_get?ranges=shtCompat1!A1:B2",
    headers={"Authorization": f"Bearer {tenant}"})))
cell = got["data"]["valueRanges"][0]["values"][1][1]
check("sheet attachment cell", cell.get("type") == "attachment" and cell.get("fileToken") == "boxcnCompatSheetFile", repr(cell))
r = download(cell["fileToken"])
check("sheet attachment downloads", r.success() and r.file.read() == b"sheet attachment")

print(f"python lark-oapi: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
