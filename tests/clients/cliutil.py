"""Running the real ``weft`` binary as a client command in the CLI tests."""

from __future__ import annotations

import json
import subprocess
from typing import Optional


def run(weft_bin: str, bootstrap: Optional[str], *args: str, ok: Optional[bool] = True,
        input: Optional[bytes] = None, timeout: float = 90) -> subprocess.CompletedProcess:
    """``weft ARGS -b BOOTSTRAP``; asserts the exit status when ``ok`` is not None."""
    argv = [weft_bin, *args]
    if bootstrap is not None:
        argv += ["-b", bootstrap]
    cp = subprocess.run(argv, input=input if input is not None else b"", capture_output=True,
                        timeout=timeout, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    if ok is not None:
        assert (cp.returncode == 0) == ok, (argv, cp.returncode, cp.stdout[-2000:], cp.stderr[-2000:])
    return cp


def run_json(weft_bin: str, bootstrap: str, *args: str, **kw):
    """The command's single JSON document on stdout."""
    return json.loads(run(weft_bin, bootstrap, *args, "--json", **kw).stdout)


def json_lines(cp: subprocess.CompletedProcess) -> list:
    return [json.loads(line) for line in cp.stdout.decode().splitlines()]


def failure(cp: subprocess.CompletedProcess) -> str:
    """The one-line error of a failed command (stderr), checked to be one line."""
    assert cp.returncode != 0, cp
    err = cp.stderr.decode().strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    return err
