"""The restart delays of child servers (``Backoff``), as plain values."""

from __future__ import annotations

from fastmcp_workspace import Backoff


def test_backoff_doubles_up_to_its_maximum_and_stops():
    assert list(Backoff(initial=1, maximum=5, max_attempts=5)) == [1, 2, 4, 5, 5]
    assert list(Backoff(max_attempts=0)) == []
