#!/usr/bin/python3
"""`make run`'s script as a user runs it (part of `make test`).

Without a terminal: it exits 0 after the first round, its output fits on one screen, it says
plainly that the stack (and the timeline link) stops, it leaves no process behind and removes
its temporary folder; an ImageMagick 12 MP JPEG, a HEIC, a WebP, an animated GIF and an
animated WebP are each posted with the logo. With a terminal (a pseudo-terminal): it stays up
showing the runs live; Ctrl-C (the terminal's interrupt character, so SIGINT reaches the
script's process group as from a keyboard) stops everything in under 2 s, measured here, and
removes the folder.
"""
import argparse
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/
from checks import check, step_failed, summary

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts", "demo.py")
SCREEN_LINES = 50


def processes_using(path):
    """Pids whose command line or working directory is inside `path`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if path in cmdline or cwd.startswith(path):
            found.append(f"{pid}: {cmdline[:120]}")
    return found


def temp_dir_of(output):
    m = re.search(r"\(data in (\S+)\)", output)
    return m.group(1) if m else None


def without_terminal(build_dir):
    r = subprocess.run([sys.executable, DEMO, "--build-dir", build_dir, "--images", "2"],
                       capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    out = r.stdout
    print(out)
    check("no terminal: exit 0 after the first round", r.returncode == 0, r.stderr[-500:])
    lines = out.count("\n")
    check(f"output fits on one screen ({SCREEN_LINES} lines)", lines <= SCREEN_LINES,
          f"{lines} lines")
    check("says plainly that the stack and its links stop", "links above stop working" in out)
    check("no raw JSON in the output", '{"' not in out)
    # Issue 14: the formats people upload, made by the real encoders, each posted with the logo
    # (the script fetches each post's media and compares its corners with the upload).
    for key, posted in [("images/photo-12mp.jpg", r"jpeg 4000x3000"),
                        ("images/phone.heic", r"jpeg 640x480"),
                        ("images/photo.webp", r"(webp|jpeg) 640x480"),
                        ("images/animation.gif", r"gif 320x240, 3 frames"),
                        ("images/animation.webp", r"webp 320x240, 3 frames")]:
        line = next((l for l in out.splitlines() if l.startswith(key + " ")), "")
        check(f"{key} is posted as {posted} with the logo",
              re.search(posted + r" \+logo$", line.strip()) is not None, line)
    d = temp_dir_of(out)
    check("temporary folder removed", d is not None and not os.path.exists(d), str(d))
    if d:
        check("no process left behind", not processes_using(d), str(processes_using(d)))


def read_until(fd, pattern, timeout, buf):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pattern in buf[0]:
            return True
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return pattern in buf[0]
            if not data:
                return pattern in buf[0]
            buf[0] += data.decode(errors="replace")
    return pattern in buf[0]


def upload_live(build_dir, buf, fd):
    """An upload while the stack is live shows up as one readable line: key and outcome."""
    # The hint is the line after "Ctrl-C stops everything": wait until it has arrived whole.
    pattern = re.compile(r"aws --endpoint-url (\S+) s3 cp photo.jpg (\S+)\r?\n")
    deadline = time.time() + 30
    while not pattern.search(buf[0]) and time.time() < deadline:
        read_until(fd, "\0", 0.2, buf)
    m = pattern.search(buf[0])
    if not check("the live view says how to upload", m is not None):
        return
    work = tempfile.mkdtemp(prefix="make-run-test-")
    try:
        out = subprocess.run([os.path.join(build_dir, "bin", "sample-images"), work, "--count", "1",
                              "--prefix", "live"], capture_output=True, text=True, check=True)
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   AWS_DEFAULT_REGION="us-west-2")
        subprocess.run(["aws", "--endpoint-url", m.group(1), "s3", "cp", out.stdout.split()[0],
                        m.group(2)], env=env, capture_output=True, check=True, timeout=60)
        seen = read_until(fd, "images/live-1.jpg  posted", 60, buf)
        line = next((l for l in buf[0].splitlines() if "images/live-1.jpg  posted" in l), "")
        check("a live upload is shown as one line with its key and outcome", seen and
              "{" not in line, line)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def with_terminal(build_dir):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, DEMO, "--build-dir", build_dir, "--images", "1"])
    buf = [""]
    try:
        live = read_until(fd, "Ctrl-C stops everything", 240, buf)
        check("with a terminal it stays up, live", live, buf[0][-500:])
        d = temp_dir_of(buf[0])
        if not live:
            os.kill(pid, signal.SIGKILL)
            return
        upload_live(build_dir, buf, fd)
        t0 = time.monotonic()
        os.write(fd, b"\x03")  # Ctrl-C, as typed
        exited = None
        while time.monotonic() - t0 < 30:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                exited = time.monotonic() - t0
                break
            read_until(fd, "\0", 0.05, buf)
        read_until(fd, "\0", 0.5, buf)
        print(buf[0])
        check("Ctrl-C stops everything in under 2 s", exited is not None and exited < 2.0,
              f"{exited:.2f} s" if exited is not None else "still running after 30 s")
        print(f"ctrl-c stop time: {exited:.3f} s" if exited is not None else "")
        check("temporary folder removed", d is not None and not os.path.exists(d), str(d))
        if d:
            left = processes_using(d)
            check("no process left behind", not left, str(left))
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    args = ap.parse_args()
    try:
        without_terminal(args.build_dir)
        with_terminal(args.build_dir)
    except Exception as e:  # noqa: BLE001
        step_failed("make run test", e)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
