#!/usr/bin/python3
"""make run: the seed's walkthrough end to end on this machine.

Starts localcloud (AWS + the X sandbox) and `dispatch server` on free ports, runs the seed's
`dispatch` commands (echoing each), uploads generated sample images with the aws CLI, waits
for each post and prints a summary. With a terminal it then shows new events and posts live
until Ctrl-C; without one it exits: 0 when every sample was posted.

The Stack class is also used by the end-to-end test (tests/e2e).
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUCKET = "dispatch-events-aws-twitter-example"
ACCESS_KEY = "test"
SECRET_KEY = "test"


class StepError(Exception):
    """A step of the walkthrough failed; the message says which and why."""


def say(msg=""):
    print(msg, flush=True)


class Stack:
    """localcloud + dispatch server + the seed's dispatch objects, in one data directory."""

    def __init__(self, build_dir, data_dir=None, echo=True, driver_sets=()):
        self.bin = os.path.join(build_dir, "bin")
        self.own_dir = data_dir is None
        self.dir = data_dir or tempfile.mkdtemp(prefix="dispatch-demo-")
        self.logs = os.path.join(self.dir, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.echo = echo
        self.driver_sets = list(driver_sets)
        self.x_secret = "test"  # the X sandbox's consumer and token secrets
        self.procs = {}
        self.localcloud_url = None
        self.dispatch_url = None
        self.env = dict(os.environ)
        self.env["PATH"] = self.bin + os.pathsep + self.env.get("PATH", "")
        # The aws CLI, as a user would run it against localcloud.
        self.aws_env = dict(self.env)
        self.aws_env.update({"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                             "AWS_DEFAULT_REGION": "us-west-2", "AWS_PAGER": ""})

    # --- processes -------------------------------------------------------------------------
    def _start(self, name, argv, timeout=20):
        log = open(os.path.join(self.logs, name + ".log"), "ab")
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                             env=self.env, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            text = line.decode(errors="replace").strip()
            if "listening on " in text:
                self.procs[name] = p
                return text.split("listening on ", 1)[1].strip()
        p.kill()
        raise StepError(f"{name} did not start; see {os.path.join(self.logs, name + '.log')}")

    def start_localcloud(self):
        self.localcloud_url = self._start("localcloud", [
            os.path.join(self.bin, "localcloud"), "--port", "0",
            "--data-dir", os.path.join(self.dir, "localcloud"),
            "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY,
            "--x-consumer-secret", self.x_secret, "--x-access-token-secret", self.x_secret])
        self.aws_env["AWS_ENDPOINT_URL"] = self.localcloud_url
        return self.localcloud_url

    def start_dispatch(self):
        data = os.path.join(self.dir, "dispatch")
        self.dispatch_url = self._start("dispatch-server", [
            os.path.join(self.bin, "dispatch"), "server", "--data-dir", data,
            "--listen", "127.0.0.1:0"])
        self.env["DISPATCH_SERVER"] = self.dispatch_url
        with open(os.path.join(data, "token")) as f:
            self.env["DISPATCH_TOKEN"] = f.read().strip()
        return self.dispatch_url

    def kill_dispatch(self):
        """kill -9 the server (restart-safety tests)."""
        p = self.procs.pop("dispatch-server")
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()

    def restart_dispatch(self):
        """Starts the server again on the same data dir; the CLI follows the new port."""
        return self.start_dispatch()

    def driver_names(self):
        return [d.get("name") for d in self.dispatch_json(["get", "eventdrivers"])]

    def delete_drivers(self):
        """Deletes every event driver (each cleans up what it created)."""
        for name in self.driver_names():
            self.dispatch(["delete", "eventdriver", name], check=False, quiet=True)

    def stop(self):
        """Deletes the event driver (so it cleans up), then stops every process."""
        if "dispatch-server" in self.procs:
            try:
                self.delete_drivers()
                deadline = time.time() + 30
                while self.driver_names() and time.time() < deadline:
                    time.sleep(0.2)
            except Exception:
                pass
        for name in ("dispatch-server", "localcloud"):
            p = self.procs.pop(name, None)
            if p is None:
                continue
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def cleanup_dir(self):
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- commands --------------------------------------------------------------------------
    def dispatch(self, args, check=True, quiet=False, timeout=120):
        if self.echo and not quiet:
            say("$ dispatch " + " ".join(_quote(a) for a in args))
        r = subprocess.run([os.path.join(self.bin, "dispatch")] + args, env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        if self.echo and not quiet and r.stdout.strip():
            say("  " + r.stdout.strip().replace("\n", "\n  "))
        if check and r.returncode != 0:
            raise StepError(f"`dispatch {' '.join(args)}` failed ({r.returncode}): "
                            f"{r.stderr.strip() or r.stdout.strip()}")
        return r

    def dispatch_json(self, args):
        return json.loads(self.dispatch(args + ["--json"], quiet=True).stdout)

    def aws(self, args, check=True, timeout=120):
        # Debian's awscli 2.9 predates AWS_ENDPOINT_URL: name the endpoint explicitly.
        r = subprocess.run(["aws", "--endpoint-url", self.localcloud_url] + args,
                           env=self.aws_env, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise StepError(f"`aws {' '.join(args)}` failed: {r.stderr.strip()}")
        return r

    # --- the seed's steps ------------------------------------------------------------------
    def write_secrets(self):
        aws_secret = os.path.join(self.dir, "aws-secret.json")
        with open(aws_secret, "w") as f:
            json.dump({"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY,
                       "region": "us-west-2", "endpoint_url": self.localcloud_url}, f, indent=2)
        twitter_secret = os.path.join(self.dir, "twitter-secret.json")
        with open(twitter_secret, "w") as f:
            json.dump({"appKey": "test", "appSecret": self.x_secret, "oathToken": "test",
                       "oathTokenSecret": self.x_secret, "apiBase": self.localcloud_url + "/x"},
                      f, indent=2)
        return aws_secret, twitter_secret

    def seed_steps(self):
        aws_secret, twitter_secret = self.write_secrets()
        self.dispatch(["create", "secret", "aws", aws_secret])
        self.dispatch(["create", "eventdrivertype", "aws", "dispatch-events-aws:latest"])
        sets = []
        for s in ["clean-up", f"bucket-name={BUCKET}"] + self.driver_sets:
            sets += ["--set", s]
        self.dispatch(["create", "eventdriver", "aws", "--secret", "aws"] + sets + ["--wait"])
        self.dispatch(["create", "secret", "twitter", twitter_secret])
        self.dispatch(["create", "base-image", "native-base", "native:latest", "--language",
                       "native", "--wait"])
        self.dispatch(["create", "image", "twitter-image", "native-base", "--wait"])
        self.dispatch(["create", "function", "twitter", "--image", "twitter-image",
                       os.path.join(self.bin, "twitter"), "--secret", "aws", "--secret",
                       "twitter", "--wait"])
        self.dispatch(["create", "subscription", "twitter", "--event-type", "aws.s3",
                       "--source-type", "aws"])

    # --- observing the X sandbox -----------------------------------------------------------
    def posts(self):
        with urllib.request.urlopen(self.localcloud_url + "/x/2/sandbox/posts", timeout=10) as r:
            body = json.loads(r.read())
        return body.get("data", body) if isinstance(body, dict) else body

    def wait_for_post(self, name, since_ids, timeout=60):
        """Waits for a new post whose text names `name`; returns (post, seconds waited)."""
        start = time.time()
        while time.time() - start < timeout:
            for p in self.posts():
                if p.get("id") not in since_ids and name in p.get("text", ""):
                    return p, time.time() - start
            time.sleep(0.02)
        raise StepError(f"no post for {name} within {timeout} s; see "
                        f"`dispatch get runs twitter` and the logs in {self.logs}")

    def upload(self, path, key):
        self.aws(["s3", "cp", path, f"s3://{BUCKET}/{key}", "--only-show-errors"])


def _quote(a):
    return a if a and all(c.isalnum() or c in "-_=./:@" for c in a) else "'" + a + "'"


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def upload_round(stack, images, prefix="images/"):
    """Uploads each image and waits for its post; returns rows (key, post id, latency ms)."""
    rows = []
    for path in images:
        name = os.path.basename(path)
        key = prefix + name
        size_kb = os.path.getsize(path) / 1024
        print(f"uploading {key} ({size_kb:.0f} KB) … ", end="", flush=True)
        seen = {p.get("id") for p in stack.posts()}
        t0 = time.time()
        stack.upload(path, key)
        post, _ = stack.wait_for_post(name, seen)
        latency_ms = (time.time() - t0) * 1000
        say(f"posted as {post['id']} in {latency_ms:.0f} ms")
        rows.append((key, post["id"], latency_ms))
    return rows


def print_table(rows, headers):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    say("  ".join(str(h).upper().ljust(w) for h, w in zip(headers, widths)))
    for r in rows:
        say("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def live(stack):
    say("")
    say("Watching for new uploads. In another terminal:")
    say(f"  AWS_ACCESS_KEY_ID={ACCESS_KEY} AWS_SECRET_ACCESS_KEY={SECRET_KEY} "
        f"aws --endpoint-url {stack.localcloud_url} s3 cp photo.jpg s3://{BUCKET}/images/")
    say("Press Ctrl-C to stop (the driver then removes the queue and rules it created).")
    seen_posts = {p.get("id") for p in stack.posts()}
    seen_runs = set()
    try:
        for r in stack.dispatch_json(["get", "runs", "twitter"]):
            seen_runs.add(r.get("id") or r.get("name"))
    except Exception:
        pass
    while True:
        time.sleep(0.5)
        try:
            for r in stack.dispatch_json(["get", "runs", "twitter"]):
                rid = r.get("id") or r.get("name")
                if rid in seen_runs:
                    continue
                if str(r.get("status", "")).lower() in ("running", "queued"):
                    continue
                seen_runs.add(rid)
                say(f"event → run {rid}: {r.get('status')} {json.dumps(r.get('output') or r.get('error') or '')[:160]}")
            for p in stack.posts():
                if p.get("id") not in seen_posts:
                    seen_posts.add(p.get("id"))
                    say(f"posted {p.get('id')}: {p.get('text')}")
        except StepError as e:
            say(f"(status unavailable: {e})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--data-dir", help="keep state here instead of a temporary directory")
    ap.add_argument("--images", type=int, default=3, help="number of sample images")
    ap.add_argument("--no-interactive", action="store_true",
                    help="exit after the first round even on a terminal")
    args = ap.parse_args()

    stack = Stack(args.build_dir, args.data_dir)
    interrupted = False
    step = "starting localcloud"
    try:
        say(f"localcloud: {stack.start_localcloud()}   (S3, SQS, EventBridge, CloudTrail, STS, X sandbox)")
        step = "starting dispatch server"
        say(f"dispatch server: {stack.start_dispatch()}   (data in {stack.dir})")
        say("")
        step = "the seed's dispatch commands"
        stack.seed_steps()
        say("")
        step = "generating sample images"
        samples = os.path.join(stack.dir, "samples")
        os.makedirs(samples, exist_ok=True)
        out = subprocess.run([os.path.join(stack.bin, "sample-images"), samples, "--count",
                              str(args.images)], capture_output=True, text=True, check=True)
        images = out.stdout.split()
        step = "uploading and waiting for posts"
        rows = upload_round(stack, images)
        say("")
        print_table([(k, i, f"{ms:.0f} ms") for k, i, ms in rows],
                    ["object key", "post id", "upload to post"])
        lat = [ms for _, _, ms in rows]
        say(f"\nupload-to-post latency: p50 {percentile(lat, 50):.0f} ms, "
            f"max {max(lat):.0f} ms over {len(lat)} uploads")
        say(f"See the watermarked posts: {stack.localcloud_url}/x/")
        if sys.stdin.isatty() and not args.no_interactive:
            live(stack)
        return 0
    except KeyboardInterrupt:
        interrupted = True
        say("\nstopping … (the driver finishes its current long poll, up to 20 s, then removes "
            "the queue and rules it created)")
        return 0
    except (StepError, subprocess.CalledProcessError, OSError, urllib.error.URLError) as e:
        say(f"\nmake run failed while {step}: {e}")
        say(f"logs: {stack.logs}")
        return 1
    finally:
        stack.stop()
        if interrupted or args.data_dir is None:
            pass


if __name__ == "__main__":
    sys.exit(main())
