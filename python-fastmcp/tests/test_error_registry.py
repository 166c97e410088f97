"""errors.json, the error registry the Rust, JS and Python tests all read:
codes unique and in the bridge's range, names unique.
"""

from __future__ import annotations

import json

from conftest import REPO


def test_error_registry_is_well_formed():
    registry = json.loads((REPO / "errors.json").read_text())["errors"]
    codes = [entry["code"] for entry in registry]
    assert len(set(codes)) == len(codes)
    assert all(-32019 <= code <= -32000 and code != -32002 for code in codes)
    assert len({entry["name"] for entry in registry}) == len(registry)
