#!/usr/bin/env python3
"""Build step (CMakeLists.txt): docs/openapi.yaml -> openapi.json and a C file holding its bytes.

    openapi_embed.py SPEC.yaml OUT.json OUT.c

The server serves the JSON at GET /openapi.json from the C array, so the binary needs no file at
run time and always serves the contract it was built with. The ETag is a hash of the JSON,
computed here once rather than per request. PyYAML is Debian's python3-yaml (Makefile PACKAGES).
"""
import hashlib
import json
import sys

import yaml


def main():
    spec_path, json_path, c_path = sys.argv[1:4]
    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    # Dates in the YAML (a bare 2026-12-01) would load as datetime.date; the spec quotes them, and
    # default=str keeps a slip from breaking the build rather than changing the document's meaning.
    # ASCII only (\u escapes), so every byte fits a char in the C array.
    text = json.dumps(spec, ensure_ascii=True, separators=(",", ":"), default=str).encode("utf-8")
    etag = '"' + hashlib.sha256(text).hexdigest()[:16] + '"'
    with open(json_path, "wb") as f:
        f.write(text)
    lines = []
    for i in range(0, len(text), 24):
        lines.append("    " + ",".join(str(b) for b in text[i:i + 24]) + ",")
    with open(c_path, "w", encoding="ascii") as f:
        f.write("/* Generated from docs/openapi.yaml by src/openapi_embed.py; do not edit. */\n")
        f.write("#include <stddef.h>\n\n")
        f.write("extern const char fs_openapi_json[];\nextern const size_t fs_openapi_json_len;\n")
        f.write("extern const char fs_openapi_etag[];\n\n")
        f.write("const char fs_openapi_json[] = {\n" + "\n".join(lines) + "\n    0};\n")
        f.write("const size_t fs_openapi_json_len = %d;\n" % len(text))
        f.write("const char fs_openapi_etag[] = %s;\n" % json.dumps(etag))


if __name__ == "__main__":
    main()
