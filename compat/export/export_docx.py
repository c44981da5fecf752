"""Export a docx with its images and attachments, written as a user of the official
Python SDK (lark-oapi) writes it: list the blocks page by page, download the media of
every image and file block, save each under its own name.

Usage: export_docx.py BASE_URL APP_ID APP_SECRET DOCUMENT_ID OUT_DIR
(BASE_URL is https://open.feishu.cn for real Feishu.)
"""
import json
import os
import sys

import lark_oapi as lark
from lark_oapi.api.docx.v1 import GetDocumentRequest, ListDocumentBlockRequest
from lark_oapi.api.drive.v1 import DownloadMediaRequest

base, app_id, app_secret, document_id, out = sys.argv[1:6]
client = lark.Client.builder().app_id(app_id).app_secret(app_secret).domain(base).build()

doc = client.docx.v1.document.get(GetDocumentRequest.builder().document_id(document_id).build())
if not doc.success():
    sys.exit(f"document {document_id}: {doc.code} {doc.msg}")

blocks = []
page_token = None
while True:
    req = ListDocumentBlockRequest.builder().document_id(document_id).page_size(500)
    if page_token:
        req = req.page_token(page_token)
    resp = client.docx.v1.document_block.list(req.build())
    if not resp.success():
        sys.exit(f"blocks: {resp.code} {resp.msg}")
    blocks.extend(resp.data.items or [])
    if not resp.data.has_more:
        break
    page_token = resp.data.page_token

os.makedirs(out, exist_ok=True)
index = []
for block in blocks:
    if block.block_type == 27:
        token = block.image.token
    elif block.block_type == 23:
        token = block.file.token
    else:
        continue
    media = client.drive.v1.media.download(DownloadMediaRequest.builder().file_token(token).build())
    if not media.success():
        sys.exit(f"media {token}: {media.code} {media.msg}")
    name = os.path.basename(media.file_name or token)
    with open(os.path.join(out, name), "wb") as f:
        f.write(media.file.read())
    index.append({"block_id": block.block_id, "file_token": token, "file": name})

with open(os.path.join(out, "index.json"), "w", encoding="utf-8") as f:
    json.dump({"title": doc.data.document.title, "media": index}, f, ensure_ascii=False, indent=2)
print(f"exported {len(index)} media of {doc.data.document.title!r} to {out}")
