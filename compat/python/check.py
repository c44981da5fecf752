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

# A user access token passed per request.
opt = lark.RequestOption.builder().user_access_token("u-compat").build()
r = download("boxcnCompatImage", opt)
check("user token download", r.success() and r.file.read() == image, f"code={r.code}")

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

print(f"python lark-oapi: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
