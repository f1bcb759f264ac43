#!/usr/bin/env python3
"""Vendor @viz-js/viz (Graphviz compiled to WebAssembly) for the HTML report's explorer.

    scripts/vendor-viz.py [VERSION]       # default: the version pinned below

Downloads the package's tarball from the npm registry, checks it against the registry's
sha512 integrity, and writes into templates/vendor/:
  viz-global.js   the package's standalone build (dist/viz-global.js: a UMD file that defines
                  the global `Viz` for a plain <script>; the WebAssembly is embedded in it, so
                  nothing is fetched at run time). Written byte for byte as the tarball has it;
                  never edit it by hand: rerun this script.
  LICENSE-viz-js.txt   the licence text
  VENDORED.json   name, version, licence, tarball URL, the tarball's integrity and the sha256 of
                  every written file (tests/test_explorer.py checks viz-global.js against it)

Only the Python standard library is used; the registry is the only host contacted.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import sys
import tarfile
import urllib.request
from pathlib import Path

NAME = "@viz-js/viz"
VERSION = "3.31.0"
REGISTRY = "https://registry.npmjs.org"
STANDALONE = "package/dist/viz-global.js"
OUT = Path(__file__).resolve().parent.parent / "templates" / "vendor"

# The npm tarball carries no licence file; its package.json says "MIT" and the bundle's header
# names the copyright holder. This is the MIT licence text of the project's repository
# (github.com/mdaines/viz-js, LICENSE), with the copyright line taken from the bundle.
MIT = """\
{copyright}

Permission is hereby granted, free of charge, to any person obtaining a copy of this software \
and associated documentation files (the "Software"), to deal in the Software without restriction, \
including without limitation the rights to use, copy, modify, merge, publish, distribute, \
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is \
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or \
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT \
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND \
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, \
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT \
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""

BUNDLED = """
The bundle also contains, in object code form (as its header says):
- Graphviz (https://www.graphviz.org), under the Eclipse Public License 1.0
  (https://www.eclipse.org/legal/epl-v10.html);
- Expat (https://libexpat.github.io), under the MIT licence.
"""


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        data: bytes = r.read()
        return data


def main(argv: list[str]) -> int:
    version = argv[1] if len(argv) > 1 else VERSION
    meta = json.loads(_get(f"{REGISTRY}/{NAME}/{version}"))
    url = meta["dist"]["tarball"]
    tarball = _get(url)
    algo, _, want = meta["dist"]["integrity"].partition("-")
    if algo != "sha512" or base64.b64decode(want) != hashlib.sha512(tarball).digest():
        print(f"vendor-viz: {url} does not match the registry's integrity", file=sys.stderr)
        return 1
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        names = tar.getnames()
        member = tar.extractfile(STANDALONE)
        if member is None:
            print(f"vendor-viz: {STANDALONE} missing from {url}", file=sys.stderr)
            return 1
        script = member.read()
        licence_files = [n for n in names if re.fullmatch(r"package/(LICEN[CS]E|COPYING)(\.\w+)?", n)]
        licence_file = tar.extractfile(licence_files[0]) if licence_files else None
        licence = licence_file.read().decode("utf-8") if licence_file is not None else ""
    text = script.decode("utf-8")
    # The file is inlined into <script> in HTML: these would end or corrupt it there.
    for bad in ("</script", "<!--", "\x00", "\r"):
        if bad in text.lower():
            print(f"vendor-viz: {STANDALONE} contains {bad!r}; it cannot be inlined in HTML", file=sys.stderr)
            return 1
    source = f"{licence_files[0]} in the tarball" if licence_files else ""
    if not licence:
        if meta.get("license") != "MIT":
            print(f"vendor-viz: no licence file and licence {meta.get('license')!r} is not MIT", file=sys.stderr)
            return 1
        header = re.search(r"Copyright \(c\)[^\n]*", text)
        licence = MIT.format(copyright=header.group(0) if header else "Copyright (c) Michael Daines")
        source = ("MIT text of github.com/mdaines/viz-js LICENSE with the copyright line of the bundle's header "
                  "(the tarball has no licence file)")
    licence += BUNDLED
    OUT.mkdir(parents=True, exist_ok=True)
    files = {"viz-global.js": script, "LICENSE-viz-js.txt": licence.encode("utf-8")}
    for name, data in files.items():
        (OUT / name).write_bytes(data)
    record = {
        "name": NAME,
        "version": version,
        "license": meta.get("license"),
        "license_text": "LICENSE-viz-js.txt",
        "license_source": source,
        "tarball": url,
        "tarball_integrity": meta["dist"]["integrity"],
        "extracted": STANDALONE,
        "graphviz_version": (re.search(r'graphvizVersion="([^"]+)"', text) or [None, None])[1],
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                  for name, data in files.items()},
        "note": "written by scripts/vendor-viz.py; never edit these files by hand",
    }
    (OUT / "VENDORED.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"vendor-viz: wrote {', '.join(files)} and VENDORED.json for {NAME} {version} into {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
