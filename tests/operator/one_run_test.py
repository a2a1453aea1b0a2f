#!/usr/bin/python3
"""One upload, exactly one run: the function's own writes never trigger it (part of `make test`).

Runs the seed's walkthrough (localcloud, dispatch server, dispatch-events-aws, twitter) with the
driver's rule restricted to images/ (`--set key-prefix=images/`), then checks:
  - by the rules of EventBridge: the rule the driver created (read back with awscli) matches an
    "Object Created" event for images/… and not one for the function's posted record
    (.dispatch-posted/…) or a key elsewhere (`aws events test-event-pattern`, whose matcher
    follows EventBridge's documented semantics);
  - on localcloud: two uploads give exactly two runs, both "posted", although the function wrote
    a posted record into the same bucket after each; the queue is empty afterwards (nothing in
    flight that could still arrive);
  - `dispatch get runs` shows each run's object key and outcome.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/
from checks import check, step_failed, summary  # noqa: E402  (puts scripts/ on the path)
import demo  # noqa: E402


def s3_event(key):
    return {"version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
            "detail-type": "Object Created", "source": "aws.s3", "account": "000000000000",
            "time": "2026-12-03T12:00:00Z", "region": "us-west-2",
            "resources": [f"arn:aws:s3:::{demo.BUCKET}"],
            "detail": {"version": "0", "bucket": {"name": demo.BUCKET},
                       "object": {"key": key, "size": 5, "etag": "e", "sequencer": "01"},
                       "request-id": "R", "requester": "000000000000",
                       "source-ip-address": "127.0.0.1", "reason": "PutObject"}}


def rule_checks(stack):
    rules = json.loads(stack.aws(["events", "list-rules", "--output", "json"]).stdout)["Rules"]
    s3_rules = [r for r in rules if "aws.s3" in r.get("EventPattern", "")]
    if not check("the driver created one S3 rule", len(s3_rules) == 1, str(rules)):
        return
    pattern = s3_rules[0]["EventPattern"]
    check("the rule filters on the key prefix",
          json.loads(pattern)["detail"]["object"]["key"] == [{"prefix": "images/"}], pattern)
    for key, expected in (("images/photo.jpg", True), (".dispatch-posted/abc.json", False),
                          ("watermarked/images/photo.jpg", False), ("other/x.jpg", False)):
        r = stack.aws(["events", "test-event-pattern", "--event-pattern", pattern, "--event",
                       json.dumps(s3_event(key)), "--output", "json"])
        got = json.loads(r.stdout)["Result"]
        check(f"rule {'matches' if expected else 'ignores'} {key}", got == expected, str(got))


def queue_empty(stack):
    urls = json.loads(stack.aws(["sqs", "list-queues", "--output", "json"]).stdout or "{}")
    for url in urls.get("QueueUrls", []):
        if url.endswith("-dlq") or "/dispatch-" not in url:
            continue
        attrs = json.loads(stack.aws(["sqs", "get-queue-attributes", "--queue-url", url,
                                      "--attribute-names", "All", "--output", "json"]).stdout)
        a = attrs["Attributes"]
        if a["ApproximateNumberOfMessages"] != "0" or a["ApproximateNumberOfMessagesNotVisible"] != "0":
            return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    args = ap.parse_args()
    stack = demo.Stack(args.build_dir, echo=False)
    try:
        stack.start_localcloud()
        stack.start_dispatch()
        stack.seed_steps()
        rule_checks(stack)
        work = os.path.join(stack.dir, "work")
        os.makedirs(work)
        out = subprocess.run([os.path.join(stack.bin, "sample-images"), work, "--count", "2"],
                             capture_output=True, text=True, check=True)
        images = out.stdout.split()
        # The first upload's record is written before its run ends; the second upload travels
        # the same rule, queue and driver behind it, so a run caused by that record would have
        # been recorded by the time the second post appears.
        demo.upload_round(stack, images)
        records = json.loads(stack.aws(["s3api", "list-objects-v2", "--bucket", demo.BUCKET,
                                        "--prefix", ".dispatch-posted/", "--output",
                                        "json"]).stdout or "{}").get("Contents", [])
        check("the function wrote its posted records into the watched bucket", len(records) == 2,
              str(len(records)))
        deadline = time.time() + 30
        while time.time() < deadline and not queue_empty(stack):
            time.sleep(0.1)
        check("nothing left in the driver's queue", queue_empty(stack))
        runs = stack.dispatch_json(["get", "runs", "twitter"])
        check("two uploads, exactly two runs", len(runs) == 2,
              str([(r.get("subject"), r.get("outcome")) for r in runs]))
        keys = sorted(r.get("subject") for r in runs)
        check("each run names its object key",
              keys == sorted("images/" + os.path.basename(p) for p in images), str(keys))
        check("both runs posted (none skipped)",
              all(str(r.get("outcome", "")).startswith("posted") for r in runs),
              str([r.get("outcome") for r in runs]))
        table = stack.dispatch(["get", "runs", "twitter"], quiet=True).stdout
        check("the runs table shows key and outcome", "images/" in table and "posted" in table,
              table)
        for name in stack.driver_names():
            r = stack.dispatch(["delete", "eventdriver", name, "--wait"], quiet=True)
            check("delete eventdriver --wait prints the clean-up's outcome",
                  "clean-up done" in r.stdout, r.stdout + r.stderr)
        rules = json.loads(stack.aws(["events", "list-rules", "--output", "json"]).stdout)
        check("the driver's rules are gone once delete returns", not rules["Rules"],
              str(rules["Rules"]))
    except Exception as e:  # noqa: BLE001
        step_failed("walkthrough", e)
    finally:
        stack.stop()
    return summary(f"logs kept in {stack.logs}", stack.cleanup_dir)


if __name__ == "__main__":
    sys.exit(main())
