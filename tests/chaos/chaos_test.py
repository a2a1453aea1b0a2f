#!/usr/bin/python3
"""Chaos tests of the whole pipeline with the real binaries (part of `make test`, label chaos).

Scenarios (--scenario):
  outage  X answers 503 for --outage-seconds (default 15; the issue's 2 minutes is
          `--outage-seconds 120`) during a stream of uploads. Afterwards every upload is posted
          exactly once, some runs needed retries, none is left failed. Then an outage longer
          than the function's maximum event age (set to 3 s): its runs are dead-lettered and
          `dispatch redrive --function twitter` afterwards posts each upload exactly once.
  chaos   uploads while the event driver and the dispatch server are killed with -9 (several
          times each) and X fails for a while. Afterwards every upload is posted exactly once,
          the driver's queue and dead-letter queue are empty, no run is queued, running or
          failed, and, once the stack is stopped, no process it started is left.
Prints the figures: uploads, lost, duplicated, retried runs, time to the last post.
The stack and its helpers are scripts/demo.py's, as in tests/e2e.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/: checks.py, which puts scripts/ on the path
from checks import check, summary, wait_until  # noqa: E402
import demo  # noqa: E402



class ChaosStack(demo.Stack):
    """demo.Stack with the server's retry backoff shortened so a run is bounded in time, and
    a marker in the environment of every process the stack starts (to find strays)."""

    SERVER_ARGS = ["--retry-backoff-ms", "500", "--retry-backoff-max-ms", "3000",
                   "--driver-backoff-ms", "300"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.marker = "DISPATCH_CHAOS_RUN=" + uuid.uuid4().hex
        key, value = self.marker.split("=", 1)
        self.env[key] = value

    def start_dispatch(self):
        data = os.path.join(self.dir, "dispatch")
        self.dispatch_url = self._start("dispatch-server", [
            os.path.join(self.bin, "dispatch"), "server", "--data-dir", data,
            "--listen", "127.0.0.1:0"] + self.SERVER_ARGS)
        self.env["DISPATCH_SERVER"] = self.dispatch_url
        with open(os.path.join(data, "token")) as f:
            self.env["DISPATCH_TOKEN"] = f.read().strip()
        return self.dispatch_url

    def server_pid(self):
        return self.procs["dispatch-server"].pid

    def api(self, path, method="GET", body=None):
        req = urllib.request.Request(self.dispatch_url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + self.env["DISPATCH_TOKEN"],
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def x_outage(self, seconds):
        """X answers 503 for `seconds` from now; 0 ends an outage."""
        body = {"status": 503, "seconds": seconds, "count": 0}
        req = urllib.request.Request(self.localcloud_url + "/x/2/sandbox/fail", method="POST",
                                     data=json.dumps(body).encode())
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()

    def marked_processes(self):
        """(pid, exe) of every live process carrying this stack's marker."""
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    env = f.read().split(b"\0")
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                exe = os.readlink(f"/proc/{pid}/exe")
            except OSError:
                continue
            if self.marker.encode() in env and state != "Z":
                out.append((int(pid), exe))
        return out

    def children_named(self, name):
        """Children of the dispatch server whose executable is build/bin/<name>."""
        server = self.server_pid()
        found = []
        for pid, exe in self.marked_processes():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == server and os.path.basename(exe) == name:
                found.append(pid)
        return found

    def kill_driver(self):
        pids = self.children_named("dispatch-events-aws")
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids


def alive(pid):
    """True while `pid` runs (not exited, not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def posts_by_name(stack):
    counts = {}
    for p in stack.posts():
        for word in p.get("text", "").split():
            counts[word] = counts.get(word, 0) + 1
    return counts


def queue_backlog(stack):
    """Messages (visible + in flight) in every queue the driver made, DLQ included."""
    r = stack.aws(["sqs", "list-queues", "--output", "json"])
    urls = json.loads(r.stdout).get("QueueUrls", []) if r.stdout.strip() else []
    total = {}
    for url in urls:
        if "/dispatch" not in url:
            continue
        attrs = json.loads(stack.aws(["sqs", "get-queue-attributes", "--queue-url", url,
                                      "--attribute-names", "ApproximateNumberOfMessages",
                                      "ApproximateNumberOfMessagesNotVisible",
                                      "--output", "json"]).stdout)["Attributes"]
        total[url.rsplit("/", 1)[1]] = (int(attrs["ApproximateNumberOfMessages"]) +
                                        int(attrs["ApproximateNumberOfMessagesNotVisible"]))
    return total


def uploader(stack, images, interval, progress, errors):
    for path in images:
        try:
            stack.upload(path, "images/" + os.path.basename(path))
        except Exception as e:  # reported by the main thread
            errors.append(f"{os.path.basename(path)}: {e}")
        progress.append(time.time())
        time.sleep(interval)


def run_scenario(args, stack, images):
    progress, errors = [], []
    t0 = time.time()
    thread = threading.Thread(target=uploader,
                              args=(stack, images, args.interval, progress, errors))
    thread.start()
    chaos_log = []

    def at_upload(n):
        wait_until(lambda: len(progress) >= n or not thread.is_alive(), 300, 0.05)

    if args.scenario == "outage":
        at_upload(2)
        stack.x_outage(args.outage_seconds)
        chaos_log.append(f"{time.time() - t0:.1f}s X 503 for {args.outage_seconds}s")
    else:
        n = len(images)
        plan = [(n // 6, "driver"), (n // 4, "x"), (n // 3, "server"), (n // 2, "driver"),
                (2 * n // 3, "server"), (5 * n // 6, "driver")]
        for at, what in plan:
            at_upload(at)
            if what == "driver":
                wait_until(lambda: stack.children_named("dispatch-events-aws"), 30)
                chaos_log.append(f"{time.time() - t0:.1f}s kill -9 driver {stack.kill_driver()}")
            elif what == "x":
                stack.x_outage(args.outage_seconds)
                chaos_log.append(f"{time.time() - t0:.1f}s X 503 for {args.outage_seconds}s")
            else:
                functions = stack.children_named("twitter")
                stack.kill_dispatch()
                chaos_log.append(f"{time.time() - t0:.1f}s kill -9 server (functions {functions})")
                # The old function processes finish their call and exit (parent-death signal).
                check(f"function processes {functions} exit with the killed server",
                      wait_until(lambda: not [p for p in functions if alive(p)], 20))
                stack.restart_dispatch()
    thread.join()
    for line in chaos_log:
        print("  chaos:", line, flush=True)
    check("every upload accepted by S3", not errors, "; ".join(errors))

    names = [os.path.basename(p) for p in images]
    posted = wait_until(lambda: all(posts_by_name(stack).get(n, 0) >= 1 for n in names),
                        args.settle_seconds, 0.5)
    last_post = time.time() - t0
    # Settle: nothing queued or running, so a late duplicate would have shown.
    stats = wait_until(lambda: (lambda s: s if s["queued"] == 0 and s["running"] == 0 else None)(
        stack.api("/v1/runs/stats?function=twitter")), 120, 0.5)
    counts = posts_by_name(stack)
    lost = [n for n in names if counts.get(n, 0) == 0]
    doubled = [n for n in names if counts.get(n, 0) > 1]
    check(f"every one of {len(names)} uploads posted", posted and not lost, f"lost {lost}")
    check("no upload posted twice", not doubled, f"duplicated {doubled}")
    check("no run queued or running at the end", stats is not None,
          json.dumps(stack.api("/v1/runs/stats?function=twitter")))
    failed = stack.dispatch_json(["get", "runs", "--failed"])
    check("dead-letter list of runs empty", not failed, f"{len(failed)} failed runs")
    runs = stack.api("/v1/runs?function=twitter&limit=1000")
    retried = [r for r in runs if r.get("attempts", 0) > 1]
    check("the X outage was felt (some runs needed more than one attempt)", retried,
          f"{len(retried)} runs retried")
    backlog = wait_until(lambda: (lambda b: b if not any(b.values()) else None)(
        queue_backlog(stack)), 60, 1)
    check("driver queue and DLQ empty", backlog is not None and backlog != {},
          json.dumps(queue_backlog(stack)))
    print(f"figures: scenario {args.scenario}, {len(names)} uploads, {len(lost)} lost, "
          f"{len(doubled)} duplicated, {len(retried)} runs retried, last post "
          f"{last_post:.1f} s after the first upload", flush=True)


def dead_letter_and_redrive(args, stack, images):
    """An outage longer than the function's maximum event age: the runs go to the dead-letter
    list, nothing is posted; after the outage `dispatch redrive --function twitter` posts each
    upload exactly once (the twitter function's posted record keeps that true when several
    failed runs of one upload are redriven)."""
    stack.api("/v1/functions/twitter", "PUT", {"maxEventAgeSeconds": 3})
    wait_until(lambda: stack.api("/v1/functions/twitter").get("status") == "READY", 60)
    stack.x_outage(600)  # ended below, once the runs are dead-lettered
    names = [os.path.basename(p) for p in images]
    for path in images:
        stack.upload(path, "images/" + os.path.basename(path))

    def dead_lettered():
        failed = stack.dispatch_json(["get", "runs", "twitter", "--failed"])
        inputs = [json.dumps(r.get("input")) for r in failed]
        return failed if all(any(n in i for i in inputs) for n in names) else None
    failed = wait_until(dead_lettered, 120, 0.5) or []
    reasons = {r.get("error", {}).get("deadLetterReason") for r in failed}
    check("runs past their maximum event age go to the dead-letter list",
          len(failed) >= len(images) and reasons == {"max event age (3s) exceeded"},
          f"{len(failed)} failed runs, reasons {reasons}")
    counts = posts_by_name(stack)
    check("nothing posted while X is down", not any(counts.get(n) for n in names))
    stack.x_outage(0)  # X is back
    out = stack.dispatch(["redrive", "--function", "twitter"], quiet=True).stdout
    check("redrive takes every failed run", f"Redriven {len(failed)} " in out, out.strip())
    posted = wait_until(lambda: all(posts_by_name(stack).get(n, 0) >= 1 for n in names), 120, 0.5)
    wait_until(lambda: (lambda s: s["queued"] == 0 and s["running"] == 0)(
        stack.api("/v1/runs/stats?function=twitter")), 60, 0.5)
    counts = posts_by_name(stack)
    check(f"each of {len(names)} redriven uploads posted exactly once",
          posted and all(counts.get(n, 0) == 1 for n in names),
          json.dumps({n: counts.get(n, 0) for n in names}))
    check("dead-letter list empty after the redrive",
          not stack.dispatch_json(["get", "runs", "--failed"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--scenario", choices=["outage", "chaos"], required=True)
    ap.add_argument("--uploads", type=int, default=12)
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between uploads")
    ap.add_argument("--outage-seconds", type=int, default=15)
    ap.add_argument("--settle-seconds", type=int, default=180)
    args = ap.parse_args()

    # A short visibility timeout keeps the test bounded. Each kill -9 of the driver or of the
    # server (whose death stops the driver) can cost an in-flight message one receive, and this
    # test kills five times within a minute: the queue's redrive threshold is raised to match
    # that outage budget, as an operator would, so that no message reaches the dead-letter
    # queue merely by being received during the kills (the default is 5 receives).
    stack = ChaosStack(args.build_dir, echo=False,
                       driver_sets=["visibility-timeout=5", "max-receive-count=20"])
    try:
        stack.start_localcloud()
        stack.start_dispatch()
        stack.seed_steps()
        work = os.path.join(stack.dir, "work")
        os.makedirs(work)
        out = subprocess.run([os.path.join(stack.bin, "sample-images"), work, "--count",
                              str(args.uploads + 3), "--prefix", f"{args.scenario}-{uuid.uuid4().hex[:6]}",
                              "--width", "320", "--height", "240"],
                             capture_output=True, text=True, check=True)
        images = out.stdout.split()
        run_scenario(args, stack, images[:args.uploads])
        if args.scenario == "outage":
            dead_letter_and_redrive(args, stack, images[args.uploads:])
    except Exception as e:  # a failed step is a failed check, with its reason
        check("scenario completed", False, f"{type(e).__name__}: {e}")
    finally:
        stack.stop()
    strays = wait_until(lambda: not stack.marked_processes(), 15) or stack.marked_processes()
    check("no process of the stack left after it stopped", strays is True,
          str(stack.marked_processes()))

    return summary(keep_note=f"logs kept in {stack.logs}", on_success=stack.cleanup_dir)


if __name__ == "__main__":
    sys.exit(main())
