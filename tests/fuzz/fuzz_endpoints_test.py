#!/usr/bin/python3
"""Hostile bodies at every API and protocol endpoint, against the real binaries.

Starts localcloud, `dispatch server` and a function (the twitter binary, which serves the
Dispatch function protocol and CloudEvents HTTP), then sends each endpoint bodies nested
100,000 levels deep, oversized bodies (announced by Content-Length, the body never sent),
invalid UTF-8 and truncated JSON/XML. Every answer must be a 4xx and every process must
still be alive afterwards. Requests to localcloud are SigV4-signed (botocore's signer), so
they reach the parsers behind authentication.

Usage: fuzz_endpoints_test.py --build-dir BUILD
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

DEEP = 100_000
DEEP_ARRAY = "[" * DEEP + "]" * DEEP
DEEP_OBJECT = '{"a":' * DEEP + "1" + "}" * DEEP
DEEP_XML = "<a>" * DEEP + "</a>" * DEEP
BAD_UTF8 = b'{"name":"bad \xff\xfe utf8","data":"\xc3\x28"}'
CREDENTIALS = Credentials("test", "test")
failures = []


def check(what, ok, detail=""):
    if not ok:
        failures.append(f"{what}: {detail}")
        print(f"FAIL {what}: {detail}", flush=True)


def start(name, argv, env, logs):
    log = open(os.path.join(logs, name + ".log"), "ab")
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                         env=env, start_new_session=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        text = line.decode(errors="replace")
        if "listening on " in text:
            return p, text.split("listening on ", 1)[1].strip()
    p.kill()
    raise SystemExit(f"{name} did not start (log in {logs})")


def send(url, method, path, body=b"", headers=None, announce=None):
    """One request on a fresh connection; returns (status, body). With `announce`, the
    request claims that Content-Length and sends no body: the answer must not wait for it."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            if k.lower() != "content-length":
                conn.putheader(k, v)
        conn.putheader("Content-Length", str(announce if announce is not None else len(body)))
        conn.endheaders()
        if announce is None and body:
            conn.send(body)
        r = conn.getresponse()
        return r.status, r.read()
    except (ConnectionError, http.client.HTTPException, OSError) as e:
        return 0, str(e).encode()
    finally:
        conn.close()


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def push_unauthenticated(what, url, method, path, proc, headers=None):
    """Announces 200 MB, pushes up to that much while the server takes it, and checks it
    answered 401/403 at once and that its memory did not grow with the body."""
    before = rss_bytes(proc.pid)
    u = urllib.parse.urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=10)
    head = f"{method} {path} HTTP/1.1\r\nHost: {u.netloc}\r\nContent-Length: {200 << 20}\r\n"
    for k, v in (headers or {}).items():
        head += f"{k}: {v}\r\n"
    sock.sendall((head + "\r\n").encode())
    started = time.monotonic()
    chunk = b"x" * (1 << 20)
    sock.sendall(chunk)
    answer = sock.recv(4096)
    check(f"{what} answered within 2 s", time.monotonic() - started < 2, time.monotonic() - started)
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    check(f"{what} refused (401/403)", status in (401, 403), answer[:200])
    sent, deadline = len(chunk), time.monotonic() + 10
    try:
        while sent < (200 << 20) and time.monotonic() < deadline:
            sock.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    sock.close()
    after = rss_bytes(proc.pid)
    check(f"{what}: memory did not grow with the body", after < before + (32 << 20),
          f"RSS {before} -> {after} after {sent} bytes pushed")
    print(f"{what}: {status}, pushed {sent >> 20} MiB, RSS {before >> 20} -> {after >> 20} MiB", flush=True)


def signed_headers(url, method, path, body, service, headers):
    aws = AWSRequest(method=method, url=url + path, data=body, headers=dict(headers))
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(CREDENTIALS, service, "us-west-2").add_auth(aws)
    return dict(aws.headers.items())


def expect_4xx(what, status, body, procs):
    check(what, 400 <= status < 500, f"status {status}: {body[:200]!r}")
    for name, p in procs.items():
        check(f"{name} alive after {what}", p.poll() is None, f"exit {p.returncode}")


def fuzz_dispatch(url, token, procs):
    auth = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    deep_event01 = '{"eventType":"t","eventID":"1","source":"s","cloudEventsVersion":"0.1","data":' + DEEP_ARRAY + "}"
    deep_event10 = '{"specversion":"1.0","id":"1","source":"s","type":"t","data":' + DEEP_OBJECT + "}"
    cases = [
        ("event 0.1 deep data", "/v1/event", deep_event01, {}),
        ("event 0.1 batch deep", "/v1/event", "[" + deep_event01 + "]", {}),
        ("event 1.0 structured deep", "/v1/event", deep_event10,
         {"Content-Type": "application/cloudevents+json"}),
        ("event 1.0 batch deep", "/v1/event", "[" + deep_event10 + "]",
         {"Content-Type": "application/cloudevents-batch+json"}),
        ("event 1.0 binary deep", "/v1/event", DEEP_ARRAY,
         {"ce-specversion": "1.0", "ce-id": "1", "ce-source": "s", "ce-type": "t"}),
        ("subscription deep filter", "/v1/subscriptions",
         '{"name":"s","function":"f","eventType":"t","filter":' + DEEP_OBJECT + "}", {}),
        ("subscription 40-deep filter string", "/v1/subscriptions",
         json.dumps({"name": "s", "function": "f", "eventType": "t",
                     "filter": '{"a":' * 40 + '["x"]' + "}" * 40}), {}),
        ("run deep input", "/v1/runs", '{"function":"f","input":' + DEEP_ARRAY + "}", {}),
    ]
    for collection in ("secrets", "functions", "eventdrivers", "images", "baseimages",
                       "eventdrivertypes", "subscriptions"):
        cases.append((f"{collection} deep body", f"/v1/{collection}", DEEP_OBJECT, {}))
        cases.append((f"{collection} invalid UTF-8", f"/v1/{collection}", BAD_UTF8, {}))
        cases.append((f"{collection} truncated", f"/v1/{collection}", '{"name":', {}))
    for what, path, body, extra in cases:
        headers = dict(auth)
        headers.update(extra)
        data = body if isinstance(body, bytes) else body.encode()
        status, text = send(url, "POST", path, data, headers)
        expect_4xx(f"dispatch {what}", status, text, procs)
    # Oversized, announced only: refused from the head (413), the body never read.
    for path, size in (("/v1/event", 2 << 20), ("/v1/secrets", 2 << 20), ("/v1/runs", 2 << 20),
                       ("/v1/functions", 300 << 20)):
        start_time = time.monotonic()
        status, text = send(url, "POST", path, headers=auth, announce=size)
        check(f"dispatch oversized {path} answered at once", time.monotonic() - start_time < 5)
        expect_4xx(f"dispatch oversized {path}", status, text, procs)
        check(f"dispatch oversized {path} is 413", status == 413, status)
    # No token: 401 before a 200 MB body.
    status, text = send(url, "POST", "/v1/functions", headers={"Expect": "100-continue"},
                        announce=200 << 20)
    check("dispatch unauthenticated 200 MB is 401", status == 401, status)
    push_unauthenticated("dispatch 200 MB without a token", url, "POST", "/v1/functions",
                         procs["dispatch"])
    status, _ = send(url, "GET", "/healthz")
    check("dispatch healthz after fuzzing", status == 200, status)


def fuzz_function(url, procs):
    cases = [
        ("dispatch protocol deep payload", '{"context":{},"payload":' + DEEP_ARRAY + "}", {}),
        ("dispatch protocol deep context", '{"context":' + DEEP_OBJECT + ',"payload":{}}', {}),
        ("structured CloudEvent deep", '{"specversion":"1.0","id":"1","source":"s","type":"t","data":'
         + DEEP_ARRAY + "}", {"Content-Type": "application/cloudevents+json"}),
        ("binary CloudEvent deep", DEEP_OBJECT,
         {"ce-specversion": "1.0", "ce-id": "1", "ce-source": "s", "ce-type": "t"}),
        ("invalid UTF-8", BAD_UTF8, {}),
        ("truncated", '{"context":', {}),
    ]
    for what, body, extra in cases:
        headers = {"Content-Type": "application/json"}
        headers.update(extra)
        data = body if isinstance(body, bytes) else body.encode()
        status, text = send(url, "POST", "/", data, headers)
        expect_4xx(f"function {what}", status, text, procs)
    status, text = send(url, "POST", "/", headers={"Content-Type": "application/json"},
                        announce=100 << 20)
    expect_4xx("function oversized", status, text, procs)
    status, _ = send(url, "GET", "/healthz")
    check("function healthz after fuzzing", status == 200, status)


def fuzz_localcloud(url, procs):
    def aws(what, service, method, path, body, headers=None, sign=True):
        data = body if isinstance(body, bytes) else body.encode()
        h = dict(headers or {})
        if sign:
            h = signed_headers(url, method, path, data, service, h)
        status, text = send(url, method, path, data, h)
        expect_4xx(f"localcloud {what}", status, text, procs)
        return status, text

    # A bucket to aim at (signed, valid).
    # Outside us-east-1 S3 wants the region named as the LocationConstraint.
    create = (b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
              b"<LocationConstraint>us-west-2</LocationConstraint></CreateBucketConfiguration>")
    h = signed_headers(url, "PUT", "/fuzz", create, "s3", {})
    status, _ = send(url, "PUT", "/fuzz", create, h)
    check("localcloud create bucket", status == 200, status)

    for what, path in (("DeleteObjects", "/fuzz?delete"), ("PutBucketTagging", "/fuzz?tagging"),
                       ("PutBucketNotification", "/fuzz?notification")):
        method = "POST" if what == "DeleteObjects" else "PUT"
        aws(f"S3 {what} deep XML", "s3", method, path, DEEP_XML)
        aws(f"S3 {what} invalid UTF-8", "s3", method, path,
            b"<Delete><Object><Key>\xff\xfe</Key></Object></Delete>")
        aws(f"S3 {what} truncated", "s3", method, path, "<Delete><Object>")
    aws("S3 CreateBucket deep XML", "s3", "PUT", "/fuzz2", DEEP_XML)
    # Oversized XML: announced, refused from the head.
    h = signed_headers(url, "POST", "/fuzz?delete", b"", "s3", {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    status, text = send(url, "POST", "/fuzz?delete", headers=h, announce=64 << 20)
    expect_4xx("localcloud S3 oversized DeleteObjects", status, text, procs)

    json_targets = [
        ("sqs", "AmazonSQS.SendMessage", "application/x-amz-json-1.0"),
        ("events", "AWSEvents.PutRule", "application/x-amz-json-1.1"),
        ("events", "AWSEvents.PutEvents", "application/x-amz-json-1.1"),
        ("cloudtrail", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
         "application/x-amz-json-1.1"),
        ("sts", "AWSSecurityTokenServiceV20110615.GetCallerIdentity", "application/x-amz-json-1.0"),
    ]
    for service, target, ctype in json_targets:
        headers = {"X-Amz-Target": target, "Content-Type": ctype}
        aws(f"{target} deep body", service, "POST", "/", DEEP_OBJECT, headers)
        aws(f"{target} invalid UTF-8", service, "POST", "/", BAD_UTF8, headers)
        aws(f"{target} truncated", service, "POST", "/", '{"a":', headers)
        h = signed_headers(url, "POST", "/", b"", service, headers)
        status, text = send(url, "POST", "/", headers=h, announce=64 << 20)
        expect_4xx(f"{target} oversized", status, text, procs)

    events = {"Content-Type": "application/x-amz-json-1.1"}
    deep_pattern = json.dumps({"Name": "r", "EventPattern": '{"a":' * DEEP + '["x"]' + "}" * DEEP})
    aws("PutRule deep pattern", "events", "POST", "/", deep_pattern,
        dict(events, **{"X-Amz-Target": "AWSEvents.PutRule"}))
    status, text = aws("PutRule 33-deep pattern", "events", "POST", "/",
                       json.dumps({"Name": "r", "EventPattern": '{"a":' * 32 + '["x"]' + "}" * 32}),
                       dict(events, **{"X-Amz-Target": "AWSEvents.PutRule"}))
    check("PutRule 33-deep pattern is InvalidEventPatternException",
          b"InvalidEventPatternException" in text, text[:200])
    test_event = {"id": "1", "account": "1", "source": "s", "time": "2026-01-01T00:00:00Z",
                  "region": "us-west-2", "detail-type": "t", "detail": {}}
    aws("TestEventPattern deep pattern", "events", "POST", "/",
        json.dumps({"EventPattern": '{"a":' * DEEP + '["x"]' + "}" * DEEP, "Event": json.dumps(test_event)}),
        dict(events, **{"X-Amz-Target": "AWSEvents.TestEventPattern"}))
    aws("TestEventPattern deep event", "events", "POST", "/",
        json.dumps({"EventPattern": '{"source":["s"]}',
                    "Event": json.dumps(test_event)[:-1] + ',"x":' + DEEP_ARRAY + "}"}),
        dict(events, **{"X-Amz-Target": "AWSEvents.TestEventPattern"}))
    # PutEvents answers 200 with the entry failed (as EventBridge does); the server lives.
    body = json.dumps({"Entries": [{"Source": "app", "DetailType": "t", "Detail": DEEP_OBJECT}]}).encode()
    h = signed_headers(url, "POST", "/", body, "events", dict(events, **{"X-Amz-Target": "AWSEvents.PutEvents"}))
    status, text = send(url, "POST", "/", body, h)
    check("PutEvents deep Detail fails its entry", status == 200 and b'"FailedEntryCount":1' in text,
          f"{status} {text[:200]!r}")
    for name, p in procs.items():
        check(f"{name} alive after PutEvents", p.poll() is None)

    # Query protocol (form-encoded): oversized and invalid UTF-8.
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    aws("SQS query invalid UTF-8", "sqs", "POST", "/", b"Action=SendMessage&QueueUrl=\xff&MessageBody=\xfe", form)
    status, text = send(url, "POST", "/", headers=form, announce=64 << 20)
    expect_4xx("query protocol oversized (unsigned)", status, text, procs)
    # Unsigned, a 300 MB PUT: 403 from the head.
    status, text = send(url, "PUT", "/fuzz/huge", headers={"Expect": "100-continue"}, announce=300 << 20)
    check("localcloud unsigned 300 MB PUT is 403", status == 403, status)
    push_unauthenticated("localcloud unsigned 200 MB PUT", url, "PUT", "/fuzz/huge",
                         procs["localcloud"], {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    status, _ = send(url, "GET", "/_localcloud/health")
    check("localcloud health after fuzzing", status == 200, status)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    args = ap.parse_args()
    bin_dir = os.path.join(args.build_dir, "bin")
    work = tempfile.mkdtemp(prefix="fuzz-endpoints-")
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    env = {"PATH": "/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8"}
    procs = {}
    started = time.monotonic()
    try:
        procs["localcloud"], cloud = start("localcloud", [
            os.path.join(bin_dir, "localcloud"), "--port", "0",
            "--data-dir", os.path.join(work, "localcloud")], env, logs)
        data = os.path.join(work, "dispatch")
        procs["dispatch"], dispatch = start("dispatch", [
            os.path.join(bin_dir, "dispatch"), "server", "--data-dir", data,
            "--listen", "127.0.0.1:0"], env, logs)
        with open(os.path.join(data, "token")) as f:
            token = f.read().strip()
        procs["function"], function = start("function", [
            os.path.join(bin_dir, "twitter"), "--port", "0"], env, logs)
        fuzz_dispatch(dispatch, token, procs)
        fuzz_function(function, procs)
        fuzz_localcloud(cloud, procs)
    finally:
        for p in procs.values():
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        if failures:
            for name in os.listdir(logs):
                with open(os.path.join(logs, name), errors="replace") as f:
                    tail = f.read()[-2000:]
                print(f"--- {name} (tail)\n{tail}")
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(failures)} failures in {time.monotonic() - started:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
