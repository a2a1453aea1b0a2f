"""What the end-to-end tests share (tests/e2e, tests/chaos, tests/operator): named checks, their
summary, waiting on a condition, and scripts/ on the import path (for demo.py)."""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scripts"))

RESULTS = []


def check(name, ok, detail=""):
    """Records and prints one named check; returns whether it passed."""
    RESULTS.append((name, bool(ok)))
    print(f"[{'PASS' if ok else 'FAIL'}] {name}{(': ' + detail) if detail else ''}", flush=True)
    return ok



def wait_until(pred, timeout, step=0.25):
    """Polls pred every `step` seconds until it returns something true or `timeout` seconds
    pass; returns its last value (a condition, never a fixed sleep)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def step_failed(what, e):
    """A step that raised is a failed check, with its reason."""
    check(f"{what} completed", False, f"{type(e).__name__}: {e}")


def summary(keep_note="", on_success=None):
    """Prints the counts; runs `on_success` when all passed, else prints `keep_note`. Returns
    the exit code."""
    failed = [n for n, ok in RESULTS if not ok]
    print(f"{len(RESULTS) - len(failed)} passed, {len(failed)} failed")
    if failed:
        if keep_note:
            print(keep_note)
    elif on_success:
        on_success()
    return 1 if failed else 0
