#!/usr/bin/env python3
"""Makes the media catalogue of bench B1k/B100k/L/S: COUNT files of 1-4 KiB random bytes,
a seed manifest naming them, and request paths for ours and nginx, shuffled once so both
are asked for the same files in the same order.

    catalogue.py WORK COUNT SMALL     (SMALL: how many of them B1k draws from)

Writes WORK/www/c/NNNNNN.bin, WORK/catalogue.json, and WORK/paths-{ours,nginx}-{small,all}.txt.
"""
import json, os, random, sys

work, count, small = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(16)
os.makedirs(f"{work}/www/c", exist_ok=True)
media = []
for i in range(count):
    name = f"{i:06d}.bin"
    with open(f"{work}/www/c/{name}", "wb") as f:
        f.write(rng.randbytes(rng.randint(1024, 4096)))
    media.append({"file_token": f"boxCat{i:06d}", "document": "doxCat", "parent_type": "docx_image",
                  "file_name": name, "path": f"www/c/{name}"})
manifest = {
    "apps": [{"app_id": "cli_bench", "app_secret": "bench", "tenant_key": "bench",
              "scopes": ["drive:drive"], "rate_limit": None}],
    "documents": [{"token": "doxCat", "type": "docx", "tenant_key": "bench", "owner": "app:cli_bench"}],
    "media": media,
}
with open(f"{work}/catalogue.json", "w") as f:
    json.dump(manifest, f)
for label, n in (("small", small), ("all", count)):
    order = list(range(n))
    rng.shuffle(order)
    with open(f"{work}/paths-ours-{label}.txt", "w") as ours, open(f"{work}/paths-nginx-{label}.txt", "w") as ngx:
        for i in order:
            ours.write(f"/open-apis/drive/v1/medias/boxCat{i:06d}/download\n")
            ngx.write(f"/c/{i:06d}.bin\n")
