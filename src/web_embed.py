#!/usr/bin/env python3
"""Build step (CMakeLists.txt): the web page's files (src/web/) -> a C file holding their bytes.

    web_embed.py OUT.c DIR FILE...

Each FILE (a path under DIR) becomes an entry of fs_web_assets (src/internal.h): its URL path
(/web/NAME; index.html is also served at /), its Content-Type, its bytes and a quoted ETag, a hash
of the bytes computed here once rather than per request. The binary so needs no file at run time
and always serves the page it was built with, like /openapi.json (src/openapi_embed.py).
"""
import hashlib
import json
import os
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


def main():
    out_path, base = sys.argv[1], sys.argv[2]
    entries = []
    for i, path in enumerate(sorted(sys.argv[3:])):
        name = os.path.relpath(path, base).replace(os.sep, "/")
        ext = os.path.splitext(name)[1]
        if ext not in TYPES:
            sys.exit("web_embed.py: %s: no Content-Type known for %r (add it to TYPES)" % (path, ext))
        with open(path, "rb") as f:
            data = f.read()
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        rows = ["    " + ",".join(str(b) for b in data[j:j + 24]) + "," for j in range(0, len(data), 24)]
        entries.append((i, "/web/" + name, TYPES[ext], data, etag, rows))
    with open(out_path, "w", encoding="ascii") as f:
        f.write("/* Generated from src/web/ by src/web_embed.py; do not edit. */\n")
        f.write('#include "src/internal.h"\n\n')
        for i, _, _, _, _, rows in entries:
            f.write("static const unsigned char asset_%d[] = {\n%s\n    0};\n" % (i, "\n".join(rows)))
        f.write("\nconst fs_web_asset_t fs_web_assets[] = {\n")
        for i, path, ctype, data, etag, _ in entries:
            f.write("    {%s, %s, asset_%d, %d, %s},\n" % (json.dumps(path), json.dumps(ctype), i, len(data), json.dumps(etag)))
        f.write("};\nconst size_t fs_web_asset_count = %d;\n" % len(entries))


if __name__ == "__main__":
    main()
