"""Request ids (telemetry/logs.py): 32 hex digits, never repeated in a process nor by a forked worker (a
Granian or Celery child starts from its parent's memory), and a caller's sane id kept."""

from __future__ import annotations

import os
import re

from cadenza.telemetry import logs


def test_ids_are_32_hex_digits_and_never_repeat() -> None:
    made = [logs.new_request_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in made)
    assert len(set(made)) == len(made)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then leave at once
        os.close(read)
        os.write(write, " ".join(logs.new_request_id() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [logs.new_request_id() for _ in range(100)]
    assert len(child) == 100 and not set(child) & set(parent)


def test_a_sane_caller_id_is_kept_and_anything_else_replaced() -> None:
    assert logs.accept_request_id("lb-1234abcd") == "lb-1234abcd"
    for bad in (None, "", "short", "has space in it", "x" * 129, "semi;colon-123"):
        assert re.fullmatch(r"[0-9a-f]{32}", logs.accept_request_id(bad))
