#!/usr/bin/python3
"""End-to-end test of the seed's walkthrough (part of `make test`).

Runs the same steps as `make run` without a terminal, against real processes (localcloud,
dispatch server, dispatch-events-aws, twitter) with the stock aws CLI, and checks:
  - every image uploaded under images/ is posted exactly once, watermarked (the logo corner
    changed, every other pixel identical);
  - an upload outside images/ is not posted;
  - a re-delivered event (same id) and a repeated notification (new id, same object) do not
    post twice;
  - kill -9 of the dispatch server mid-stream, then a restart, loses no upload;
  - deleting the event driver removes the queue and rules it created (checked with awscli);
  - no secret value appears in any log file or CLI output.
Prints upload-to-post latency p50/p95.
"""
import argparse
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/: checks.py, which puts scripts/ on the path
from checks import check, summary, wait_until  # noqa: E402
import demo  # noqa: E402


def posts_for(stack, name):
    return [p for p in stack.posts() if name in p.get("text", "")]


def fetch(url, path):
    with urllib.request.urlopen(url, timeout=30) as r, open(path, "wb") as f:
        f.write(r.read())


def image_url(stack, post):
    for k in ("image_url", "media_url", "url"):
        v = post.get(k)
        if isinstance(v, str) and (v.startswith("http") or v.startswith("/")):
            return v if v.startswith("http") else stack.localcloud_url + v
    media = post.get("media") or []
    if media and isinstance(media, list) and isinstance(media[0], dict):
        v = media[0].get("url")
        if v:
            return v if v.startswith("http") else stack.localcloud_url + v
    raise AssertionError(f"post has no image URL: {post}")


def check_watermark(stack, jpegdiff, original, post, workdir):
    posted = os.path.join(workdir, "posted-" + os.path.basename(original))
    fetch(image_url(stack, post), posted)
    out = subprocess.run([jpegdiff, original, posted], capture_output=True, text=True, check=True)
    d = json.loads(out.stdout)
    if d.get("size_differs") or d.get("bbox") is None:
        return False, f"unexpected diff {d}"
    w, h = d["width"], d["height"]
    x0, y0, x1, y1 = d["bbox"]
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    in_corner = x0 >= w // 2 and y0 >= h // 2 and x1 >= w - 64 and y1 >= h - 64
    small = area < 0.15 * w * h
    return in_corner and small, f"changed box {d['bbox']} of {w}x{h}"


def driver_queues(stack):
    r = stack.aws(["sqs", "list-queues", "--output", "json"])
    urls = json.loads(r.stdout or "{}").get("QueueUrls", []) if r.stdout.strip() else []
    return [u for u in urls if "/dispatch-" in u]


def driver_rules(stack):
    r = stack.aws(["events", "list-rules", "--output", "json"])
    rules = json.loads(r.stdout or "{}").get("Rules", [])
    return [x["Name"] for x in rules if x["Name"].startswith("dispatch")]



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--jpegdiff", required=True)
    args = ap.parse_args()

    # Distinctive secrets, so the leak check cannot pass by accident.
    demo.ACCESS_KEY = "AKIAE2E" + secrets.token_hex(6).upper()
    demo.SECRET_KEY = "e2e-aws-secret-" + secrets.token_hex(12)
    x_secret = "e2e-x-secret-" + secrets.token_hex(12)
    secret_values = [demo.SECRET_KEY, x_secret]

    stack = demo.Stack(args.build_dir, echo=True, driver_sets=["visibility-timeout=5"])
    stack.x_secret = x_secret
    cli_output = []
    latencies = []
    try:
        stack.start_localcloud()
        stack.start_dispatch()
        stack.seed_steps()
        work = os.path.join(stack.dir, "work")
        os.makedirs(work)
        out = subprocess.run([os.path.join(stack.bin, "sample-images"), work, "--count", "8"],
                             capture_output=True, text=True, check=True)
        images = out.stdout.split()

        # 1. Uploads under images/ are posted once each, watermarked.
        rows = demo.upload_round(stack, images[:3])
        latencies += [ms for _, _, ms in rows]
        for path in images[:3]:
            name = os.path.basename(path)
            found = posts_for(stack, name)
            check(f"{name} posted exactly once", len(found) == 1, f"{len(found)} posts")
            if found:
                ok, detail = check_watermark(stack, args.jpegdiff, path, found[0], work)
                check(f"{name} watermarked in the corner, rest identical", ok, detail)

        # 2. An upload outside images/ is not posted (the next one inside is, proving the
        #    pipeline moved past it).
        elsewhere = os.path.join(work, "elsewhere.jpg")
        os.rename(images[3], elsewhere)
        stack.upload(elsewhere, "other/elsewhere.jpg")
        rows = demo.upload_round(stack, [images[4]])
        latencies += [ms for _, _, ms in rows]
        check("upload outside images/ not posted", not posts_for(stack, "elsewhere.jpg"))

        # 3. Duplicates: the same event twice (same id), and a new notification for an object
        #    already posted (new id), go through the real queue and driver.
        name0 = os.path.basename(images[0])
        head = json.loads(stack.aws(["s3api", "head-object", "--bucket", demo.BUCKET, "--key",
                                     "images/" + name0, "--output", "json"]).stdout)
        queues = driver_queues(stack)
        check("driver created its queue", len(queues) >= 1, str(queues))
        runs_before = len(stack.dispatch_json(["get", "runs", "twitter"]))
        event = {
            "version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created",
            "source": "aws.s3", "account": "000000000000",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": "us-west-2",
            "resources": [f"arn:aws:s3:::{demo.BUCKET}"],
            "detail": {"version": "0", "bucket": {"name": demo.BUCKET},
                       "object": {"key": "images/" + name0, "size": head["ContentLength"],
                                  "etag": head["ETag"].strip('"'), "sequencer": "00FF"},
                       "request-id": "E2E", "requester": "000000000000",
                       "source-ip-address": "127.0.0.1", "reason": "PutObject"}}
        for body in (event, event, dict(event, id=str(uuid.uuid4()))):
            stack.aws(["sqs", "send-message", "--queue-url", queues[0], "--message-body",
                       json.dumps(body)])
        wait_until(lambda: len(stack.dispatch_json(["get", "runs", "twitter"])) >= runs_before + 2,
                   60)
        runs_after = len(stack.dispatch_json(["get", "runs", "twitter"]))
        time.sleep(2)
        check("repeated event id suppressed (one run per distinct id)",
              runs_after - runs_before == 2, f"{runs_after - runs_before} new runs")
        check("object version posted at most once despite duplicates",
              len(posts_for(stack, name0)) == 1, f"{len(posts_for(stack, name0))} posts")

        # 4. kill -9 the server mid-stream, restart it: nothing lost, nothing doubled.
        burst = images[5:8]
        for path in burst:
            stack.upload(path, "images/" + os.path.basename(path))
        stack.kill_dispatch()
        time.sleep(1)
        stack.restart_dispatch()
        for path in burst:
            name = os.path.basename(path)
            got = wait_until(lambda: posts_for(stack, name), 90, 0.5)
            time.sleep(0.5)
            check(f"{name} posted once across a server crash", len(posts_for(stack, name)) == 1,
                  f"{len(got or [])} posts")

        # 5. Deleting the driver removes the queue and rules it created.
        for name in stack.driver_names():
            r = stack.dispatch(["delete", "eventdriver", name])
            cli_output.append(r.stdout + r.stderr)
        gone = wait_until(lambda: not driver_queues(stack) and not driver_rules(stack), 60, 0.5)
        check("driver's queue and rules removed on delete", gone,
              f"queues {driver_queues(stack)}, rules {driver_rules(stack)}")

        # 6. No secret in logs or CLI output.
        for args_ in (["get", "secrets"], ["get", "secret", "aws"], ["get", "secret", "twitter"],
                      ["get", "eventdrivers"], ["get", "functions"], ["get", "runs"]):
            r = stack.dispatch(args_, check=False, quiet=True)
            cli_output.append(r.stdout + r.stderr)
        leaks = []
        for root, _, files in os.walk(stack.dir):
            for f in files:
                if f.endswith((".json",)) and root == stack.dir:
                    continue  # the secret files the user wrote
                path = os.path.join(root, f)
                if "localcloud" in path and not path.endswith(".log"):
                    continue  # the emulator's stored objects
                try:
                    data = open(path, "rb").read()
                except OSError:
                    continue
                if path.endswith((".log", ".txt")) or "log" in f:
                    for s in secret_values:
                        if s.encode() in data:
                            leaks.append(path)
        for out_ in cli_output:
            for s in secret_values:
                if s in out_:
                    leaks.append("CLI output")
        check("no secret value in logs or CLI output", not leaks, ", ".join(sorted(set(leaks))))
    except Exception as e:  # a failed step is a failed check, with its reason
        check("walkthrough completed", False, f"{type(e).__name__}: {e}")
    finally:
        stack.stop()

    if latencies:
        print(f"upload-to-post latency over {len(latencies)} uploads: "
              f"p50 {demo.percentile(latencies, 50):.0f} ms, "
              f"p95 {demo.percentile(latencies, 95):.0f} ms")
    return summary(keep_note=f"logs kept in {stack.logs}", on_success=stack.cleanup_dir)


if __name__ == "__main__":
    sys.exit(main())
