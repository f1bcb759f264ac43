"""The HTML report's explorer: the vendored Graphviz (WebAssembly) build, the embedded stack
table, and the in-browser recompute checked against `heapviz graph --format json`."""

from __future__ import annotations

import hashlib
import json

from conftest import ROOT

VENDOR = ROOT / "templates" / "vendor"


def test_vendored_viz_is_what_the_script_recorded():
    record = json.loads((VENDOR / "VENDORED.json").read_text())
    assert record["name"] == "@viz-js/viz"
    assert record["license"] == "MIT"
    assert record["tarball"].startswith("https://registry.npmjs.org/@viz-js/viz/-/")
    for name, want in record["files"].items():
        data = (VENDOR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == want["sha256"], f"{name} differs from VENDORED.json: rerun " \
            "scripts/vendor-viz.py, never edit it by hand"
        assert len(data) == want["bytes"]
