#!/usr/bin/env python3
"""End-to-end checks of localcloud's EventBridge, S3 notifications and CloudTrail through the
stock clients (awscli and boto3). Run by events_e2e_test.cc against a localcloud it started:

    events_e2e.py CASE

Environment: AWS_ENDPOINT_URL (the localcloud), AWS credentials/region, DAT_TESTDATA_DIR (the repository's testdata/).
Exits 0 when the case passed; prints what failed otherwise.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import boto3
import botocore.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
TESTDATA = os.environ["DAT_TESTDATA_DIR"]
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-west-2")
ACCOUNT = "000000000000"
ISO_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def client(name):
    return boto3.client(name, endpoint_url=ENDPOINT, region_name=REGION)


sqs, events, s3, ct = client("sqs"), client("events"), client("s3"), client("cloudtrail")


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def aws(*args):
    """Runs awscli; returns its parsed JSON output (or None when it printed nothing)."""
    out = subprocess.run(["aws", "--endpoint-url", ENDPOINT, "--output", "json", *args],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed: {out.stderr}")
    return json.loads(out.stdout) if out.stdout.strip() else None


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def new_queue(name, allow_services=True):
    """A queue; unless told otherwise its policy lets EventBridge rules and S3 buckets of this
    account send to it, as AWS requires before it delivers there."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    if allow_services:
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "AwsServices", "Effect": "Allow",
            "Principal": {"Service": ["events.amazonaws.com", "s3.amazonaws.com"]},
            "Action": "sqs:SendMessage", "Resource": arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def receive(url, want, seconds=10):
    """Receives until `want` messages arrived or `seconds` passed; returns the bodies."""
    bodies, deadline = [], time.time() + seconds
    while len(bodies) < want and time.time() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in got.get("Messages", []):
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def expect_nothing(url, seconds=1):
    extra = receive(url, 1, seconds)
    check(not extra, f"unexpected message: {extra}")


def load(name):
    with open(os.path.join(TESTDATA, "aws-events", name)) as f:
        return json.load(f)


def check_shape(expected, actual, path="$", skip=()):
    """Every field of the documented example exists in `actual` with the same JSON type."""
    if path in skip:
        return
    if expected is None:
        return
    if isinstance(expected, dict):
        check(isinstance(actual, dict), f"{path}: expected an object, got {actual!r}")
        for key, value in expected.items():
            if f"{path}.{key}" in skip:
                continue
            check(key in actual, f"{path}.{key} missing in {json.dumps(actual)[:400]}")
            check_shape(value, actual[key], f"{path}.{key}", skip)
    elif isinstance(expected, list):
        check(isinstance(actual, list), f"{path}: expected a list, got {actual!r}")
    else:
        check(type(expected) is type(actual) or (isinstance(expected, (int, float)) and isinstance(actual, (int, float)) and not isinstance(actual, bool)),
              f"{path}: expected {type(expected).__name__}, got {actual!r}")


def check_envelope(event, detail_type, source):
    check(event["version"] == "0", "version")
    check(UUID_RE.match(event["id"]), f"id {event['id']}")
    check(event["detail-type"] == detail_type, f"detail-type {event['detail-type']}")
    check(event["source"] == source, f"source {event['source']}")
    check(event["account"] == ACCOUNT, f"account {event['account']}")
    check(event["region"] == REGION, f"region {event['region']}")
    check(ISO_SECONDS.match(event["time"]), f"time {event['time']}")


# ---------------------------------------------------------------- cases

def case_put_events():
    rule = unique("orders")
    whole, whole_arn = new_queue(unique("whole"))
    fixed, fixed_arn = new_queue(unique("fixed"))
    path, path_arn = new_queue(unique("path"))
    shaped, shaped_arn = new_queue(unique("shaped"))
    pattern = {"source": ["my.app"], "detail": {"amount": [{"numeric": [">", 10]}]}}
    arn = aws("events", "put-rule", "--name", rule, "--event-pattern", json.dumps(pattern))["RuleArn"]
    check(arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}", arn)
    targets = [
        {"Id": "whole", "Arn": whole_arn},
        {"Id": "fixed", "Arn": fixed_arn, "Input": '{"fixed": true}'},
        {"Id": "path", "Arn": path_arn, "InputPath": "$.detail"},
        {"Id": "shaped", "Arn": shaped_arn, "InputTransformer": {
            "InputPathsMap": {"who": "$.detail.customer", "n": "$.detail.amount"},
            "InputTemplate": '{"customer": "<who>", "amount": <n>, "rule": "<aws.events.rule-name>"}'}},
    ]
    out = aws("events", "put-targets", "--rule", rule, "--targets", json.dumps(targets))
    check(out["FailedEntryCount"] == 0, out)
    listed = aws("events", "list-targets-by-rule", "--rule", rule)["Targets"]
    check(sorted(t["Id"] for t in listed) == ["fixed", "path", "shaped", "whole"], listed)

    entries = [
        {"Source": "my.app", "DetailType": "order", "Detail": json.dumps({"amount": 42, "customer": "ann"}),
         "Resources": ["arn:aws:s3:::x"]},
        {"Source": "my.app", "DetailType": "order", "Detail": json.dumps({"amount": 5, "customer": "bob"})},
        {"Source": "other.app", "DetailType": "order", "Detail": json.dumps({"amount": 99})},
    ]
    put = aws("events", "put-events", "--entries", json.dumps(entries))
    check(put["FailedEntryCount"] == 0 and len(put["Entries"]) == 3, put)
    ids = [e["EventId"] for e in put["Entries"]]
    check(len(set(ids)) == 3, f"event ids not unique: {ids}")

    [body] = receive(whole, 1)
    event = json.loads(body)
    check_envelope(event, "order", "my.app")
    check(event["id"] == ids[0], "delivered event keeps the PutEvents id")
    check(event["resources"] == ["arn:aws:s3:::x"], event["resources"])
    check(event["detail"] == {"amount": 42, "customer": "ann"}, event["detail"])
    check(json.loads(receive(fixed, 1)[0]) == {"fixed": True}, "Input")
    check(json.loads(receive(path, 1)[0]) == {"amount": 42, "customer": "ann"}, "InputPath")
    check(json.loads(receive(shaped, 1)[0]) == {"customer": "ann", "amount": 42, "rule": rule},
          "InputTransformer")
    # amount 5 and other.app did not match.
    expect_nothing(whole)

    # Bad requests are refused as AWS does.
    try:
        events.put_rule(Name=unique("bad"), EventPattern='{"source": "not-a-list"}')
        raise AssertionError("invalid pattern accepted")
    except botocore.exceptions.ClientError as e:
        check(e.response["Error"]["Code"] == "InvalidEventPatternException", e.response)
    try:
        events.delete_rule(Name=rule)
        raise AssertionError("rule with targets deleted")
    except botocore.exceptions.ClientError as e:
        check(e.response["Error"]["Code"] == "ValidationException", e.response)
    rejected = events.put_events(Entries=[{"Source": "my.app", "DetailType": "x", "Detail": "not json"}])
    check(rejected["FailedEntryCount"] == 1 and rejected["Entries"][0]["ErrorCode"] == "MalformedDetail",
          rejected)

    # Describe, list, disable, enable, tags, delete.
    described = events.describe_rule(Name=rule)
    check(described["State"] == "ENABLED" and json.loads(described["EventPattern"]) == pattern, described)
    check([r["Name"] for r in events.list_rules(NamePrefix=rule)["Rules"]] == [rule], "list-rules")
    events.disable_rule(Name=rule)
    events.put_events(Entries=entries[:1])
    expect_nothing(whole)
    events.enable_rule(Name=rule)
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "blue"}])
    check(events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "blue"}], "tags")
    events.remove_targets(Rule=rule, Ids=["whole", "fixed", "path", "shaped"])
    events.delete_rule(Name=rule)
    check(not events.list_rules(NamePrefix=rule)["Rules"], "rule deleted")


def case_schedule():
    rule = unique("tick")
    url, arn = new_queue(unique("tick"))
    rule_arn = events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")["RuleArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    # localcloud runs with --schedule-minute-ms 300: a "minute" lasts 0.3 s.
    bodies = receive(url, 2, 15)
    check(len(bodies) == 2, f"schedule fired {len(bodies)} times")
    first, second = json.loads(bodies[0]), json.loads(bodies[1])
    check_envelope(first, "Scheduled Event", "aws.events")
    check(first["resources"] == [rule_arn], first["resources"])
    check(first["detail"] == {}, first["detail"])
    check(first["id"] != second["id"], "each firing has its own id")
    events.disable_rule(Name=rule)
    receive(url, 10, 1)  # drain anything in flight
    expect_nothing(url, 2)


def s3_rule(bucket, detail_type, url_arn, extra_detail=None):
    rule = unique("s3")
    detail = {"bucket": {"name": [bucket]}}
    detail.update(extra_detail or {})
    pattern = {"source": ["aws.s3"], "detail-type": [detail_type], "detail": detail}
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": url_arn}])
    return rule


def case_s3_object_created():
    bucket = unique("uploads")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    aws("s3api", "put-bucket-notification-configuration", "--bucket", bucket,
        "--notification-configuration", '{"EventBridgeConfiguration": {}}')
    url, arn = new_queue(unique("created"))
    s3_rule(bucket, "Object Created", arn, {"object": {"key": [{"prefix": "incoming/"}]}})

    data = b"hello"
    aws_put = s3.put_object(Bucket=bucket, Key="incoming/cat one.jpg", Body=data)
    s3.put_object(Bucket=bucket, Key="elsewhere/dog.jpg", Body=b"woof")
    [body] = receive(url, 1)
    event = json.loads(body)
    check_shape(load("s3-eventbridge-object-created.json"), event,
                skip={"$.detail.object.version-id"})  # bucket not versioned: no version-id
    check_envelope(event, "Object Created", "aws.s3")
    check(event["resources"] == [f"arn:aws:s3:::{bucket}"], event["resources"])
    d = event["detail"]
    check(d["version"] == "0", "detail.version")
    check(d["bucket"] == {"name": bucket}, d["bucket"])
    check(d["object"]["key"] == "incoming/cat one.jpg", d["object"])
    check(d["object"]["size"] == len(data), d["object"])
    check(d["object"]["etag"] == hashlib.md5(data).hexdigest(), d["object"])
    check(aws_put["ETag"].strip('"') == d["object"]["etag"], "etag matches the PutObject answer")
    check(re.match(r"^[0-9A-F]{16,}$", d["object"]["sequencer"]), d["object"]["sequencer"])
    check(d["request-id"] == aws_put["ResponseMetadata"]["RequestId"], (d["request-id"], aws_put["ResponseMetadata"]))
    check(d["requester"] == ACCOUNT, d["requester"])
    check(d["source-ip-address"] == "127.0.0.1", d["source-ip-address"])
    check(d["reason"] == "PutObject", d["reason"])
    expect_nothing(url)  # elsewhere/ is outside the prefix

    # A second upload: new id, new request id, larger sequencer; a copy says CopyObject.
    s3.put_object(Bucket=bucket, Key="incoming/cat one.jpg", Body=b"hello again")
    s3.copy_object(Bucket=bucket, Key="incoming/copy.jpg", CopySource={"Bucket": bucket, "Key": "incoming/cat one.jpg"})
    later = [json.loads(b) for b in receive(url, 2)]
    check(len(later) == 2, later)
    later.sort(key=lambda e: int(e["detail"]["object"]["sequencer"], 16))
    check(len({event["id"], later[0]["id"], later[1]["id"]}) == 3, "ids unique")
    check(later[0]["detail"]["request-id"] != d["request-id"], "request ids differ")
    check(int(later[0]["detail"]["object"]["sequencer"], 16) > int(d["object"]["sequencer"], 16), "sequencer grows")
    check(later[1]["detail"]["reason"] == "CopyObject", later[1]["detail"])


def case_s3_object_deleted():
    bucket = unique("deletes")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    url, arn = new_queue(unique("deleted"))
    s3_rule(bucket, "Object Deleted", arn)
    s3.put_object(Bucket=bucket, Key="gone.txt", Body=b"x")
    resp = s3.delete_object(Bucket=bucket, Key="gone.txt")
    [body] = receive(url, 1)
    event = json.loads(body)
    check_envelope(event, "Object Deleted", "aws.s3")
    d = event["detail"]
    check(d["reason"] == "DeleteObject", d)
    check(d["object"]["key"] == "gone.txt", d)
    check(d["deletion-type"] == "Permanently Deleted", d)
    check(d["request-id"] == resp["ResponseMetadata"]["RequestId"], d)
    check("size" not in d["object"] and "etag" not in d["object"], d["object"])
    expect_nothing(url)  # the PutObject did not match "Object Deleted"


def case_cloudtrail():
    bucket = unique("trailed")
    other = unique("untrailed")
    for b in (bucket, other):
        s3.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": REGION})
    trail = unique("trail")
    created = aws("cloudtrail", "create-trail", "--name", trail, "--s3-bucket-name", bucket)
    check(created["TrailARN"] == f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail}", created)
    selectors = [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": False,
                  "DataResources": [{"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{bucket}/"]}]}]
    aws("cloudtrail", "put-event-selectors", "--trail-name", trail, "--event-selectors", json.dumps(selectors))
    got = ct.get_event_selectors(TrailName=trail)
    check(got["EventSelectors"][0]["DataResources"] == selectors[0]["DataResources"], got)
    check(ct.get_trail_status(Name=trail)["IsLogging"] is False, "not logging yet")
    aws("cloudtrail", "start-logging", "--name", trail)
    check(ct.get_trail_status(Name=trail)["IsLogging"] is True, "logging")
    check([t["Name"] for t in ct.describe_trails(trailNameList=[trail])["trailList"]] == [trail], "describe")

    url, arn = new_queue(unique("trail"))
    rule = unique("ct")
    pattern = {"source": ["aws.s3"], "detail-type": ["AWS API Call via CloudTrail"],
               "detail": {"eventSource": ["s3.amazonaws.com"],
                          "eventName": ["PutObject", "CompleteMultipartUpload"],
                          "requestParameters": {"bucketName": [bucket, other]}}}
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])

    put = s3.put_object(Bucket=bucket, Key="photos/a.jpg", Body=b"abc")
    s3.put_object(Bucket=other, Key="photos/b.jpg", Body=b"abc")  # bucket not selected
    s3.get_object(Bucket=bucket, Key="photos/a.jpg")  # read: WriteOnly selector skips it
    [body] = receive(url, 1)
    event = json.loads(body)
    check_shape(load("cloudtrail-s3-putobject.json"), event,
                # Root credentials have no session; plain HTTP on loopback has no TLS cipher.
                skip={"$.detail.userIdentity.sessionContext", "$.detail.additionalEventData.CipherSuite"})
    check_envelope(event, "AWS API Call via CloudTrail", "aws.s3")
    d = event["detail"]
    check(d["eventName"] == "PutObject" and d["eventSource"] == "s3.amazonaws.com", d)
    check(d["requestParameters"]["bucketName"] == bucket and d["requestParameters"]["key"] == "photos/a.jpg", d)
    check(d["requestID"] == put["ResponseMetadata"]["RequestId"], d["requestID"])
    check(d["eventType"] == "AwsApiCall" and d["readOnly"] is False, d)
    check(d["recipientAccountId"] == ACCOUNT and d["userIdentity"]["accountId"] == ACCOUNT, d)
    check(d["sourceIPAddress"] == "127.0.0.1" and d["awsRegion"] == REGION, d)
    check(ISO_SECONDS.match(d["eventTime"]) and UUID_RE.match(d["eventID"]), d)
    check({"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/photos/a.jpg"} in d["resources"], d["resources"])
    expect_nothing(url)

    # A multipart upload ends in CompleteMultipartUpload.
    mpu = s3.create_multipart_upload(Bucket=bucket, Key="big.bin")
    part = s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=mpu["UploadId"], PartNumber=1, Body=b"z" * 1024)
    s3.complete_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=mpu["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    [body] = receive(url, 1)
    d = json.loads(body)["detail"]
    check(d["eventName"] == "CompleteMultipartUpload" and d["requestParameters"]["key"] == "big.bin", d)

    # Advanced selectors round-trip; stop-logging stops the events.
    adv = [{"Name": "photos", "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Data"]},
        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
        {"Field": "resources.ARN", "StartsWith": [f"arn:aws:s3:::{other}/photos/"]}]}]
    ct.put_event_selectors(TrailName=trail, AdvancedEventSelectors=adv)
    check(ct.get_event_selectors(TrailName=trail)["AdvancedEventSelectors"] == adv, "advanced round trip")
    s3.put_object(Bucket=bucket, Key="photos/c.jpg", Body=b"c")      # no longer selected
    s3.put_object(Bucket=other, Key="photos/d.jpg", Body=b"d")       # selected now
    [body] = receive(url, 1)
    check(json.loads(body)["detail"]["requestParameters"]["key"] == "photos/d.jpg", body)
    expect_nothing(url)
    aws("cloudtrail", "stop-logging", "--name", trail)
    s3.put_object(Bucket=other, Key="photos/e.jpg", Body=b"e")
    expect_nothing(url)
    aws("cloudtrail", "delete-trail", "--name", trail)
    check(not ct.describe_trails(trailNameList=[trail])["trailList"], "deleted")


def case_classic_notifications():
    bucket = unique("classic")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    url, arn = new_queue(unique("classic"))
    config = {"QueueConfigurations": [{
        "Id": "photos-to-queue", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "photos/"}]}}}]}
    aws("s3api", "put-bucket-notification-configuration", "--bucket", bucket,
        "--notification-configuration", json.dumps(config))
    [test_body] = receive(url, 1)
    test = json.loads(test_body)
    check_shape(load("s3-notification-test-event.json"), test)
    check(test["Service"] == "Amazon S3" and test["Event"] == "s3:TestEvent" and test["Bucket"] == bucket, test)
    check(ISO_MILLIS.match(test["Time"]), test["Time"])

    put = s3.put_object(Bucket=bucket, Key="photos/red flower.jpg", Body=b"petals")
    s3.put_object(Bucket=bucket, Key="drafts/x.jpg", Body=b"x")  # filtered out
    [body] = receive(url, 1)
    record_doc = json.loads(body)
    check_shape(load("s3-notification-record.json"), record_doc)
    r = record_doc["Records"][0]
    check(r["eventSource"] == "aws:s3" and r["eventName"] == "ObjectCreated:Put", r)
    check(r["awsRegion"] == REGION and ISO_MILLIS.match(r["eventTime"]), r)
    check(r["s3"]["configurationId"] == "photos-to-queue", r["s3"])
    check(r["s3"]["bucket"]["name"] == bucket and r["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}", r)
    check(r["s3"]["object"]["key"] == "photos/red+flower.jpg", r["s3"]["object"])
    check(r["s3"]["object"]["size"] == 6 and r["s3"]["object"]["eTag"] == hashlib.md5(b"petals").hexdigest(), r)
    check(r["responseElements"]["x-amz-request-id"] == put["ResponseMetadata"]["RequestId"], r)
    check(r["requestParameters"]["sourceIPAddress"] == "127.0.0.1", r)
    expect_nothing(url)

    # A configuration naming a queue that does not exist is refused.
    bad = {"QueueConfigurations": [{"QueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:nope-{uuid.uuid4().hex[:6]}",
                                    "Events": ["s3:ObjectCreated:*"]}]}
    try:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=bad)
        raise AssertionError("missing queue accepted")
    except botocore.exceptions.ClientError as e:
        check(e.response["Error"]["Code"] == "InvalidArgument", e.response)


def json5_loads(text):
    """The JSON5 the pattern cases use: // comments and trailing commas."""
    out, i, in_string = [], 0, False
    while i < len(text):
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\":
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif text.startswith("//", i):
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        else:
            out.append(c)
        i += 1
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", "".join(out)))


def case_queue_policy_decides_delivery():
    """A rule's target queue gets events only when its policy allows the rule to send."""
    rule = unique("policed")
    closed, closed_arn = new_queue(unique("closed"), allow_services=False)
    other, other_arn = new_queue(unique("other-rule"), allow_services=False)
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["policed.app"]}))["RuleArn"]
    sqs.set_queue_attributes(QueueUrl=other, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": other_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn + "-not-this-one"}}}]})})
    events.put_targets(Rule=rule, Targets=[{"Id": "closed", "Arn": closed_arn},
                                           {"Id": "other", "Arn": other_arn}])
    events.put_events(Entries=[{"Source": "policed.app", "DetailType": "t", "Detail": "{}"}])
    expect_nothing(closed, 2)
    expect_nothing(other, 1)
    # Allowing exactly this rule opens the queue.
    sqs.set_queue_attributes(QueueUrl=other, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": other_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]})})
    events.put_events(Entries=[{"Source": "policed.app", "DetailType": "t", "Detail": "{}"}])
    check(len(receive(other, 1)) == 1, "allowed rule delivers")
    expect_nothing(closed, 1)
    events.remove_targets(Rule=rule, Ids=["closed", "other"])
    events.delete_rule(Name=rule)


def signed_json_call(service, target, body):
    """A JSON-protocol request with the given X-Amz-Target, signed as the SDKs sign it."""
    request = AWSRequest(method="POST", url=ENDPOINT + "/", data=json.dumps(body).encode(), headers={
        "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
    credentials = boto3.session.Session().get_credentials()
    SigV4Auth(credentials, service, REGION).add_auth(request)
    prepared = request.prepare()
    try:
        with urllib.request.urlopen(urllib.request.Request(
                prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST"), timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def case_cloudtrail_short_target():
    """The AWS SDK for JavaScript v3 sends X-Amz-Target CloudTrail_20131101.<Op>."""
    trail = unique("short")
    bucket = unique("short-logs")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    status, out = signed_json_call("cloudtrail", "CloudTrail_20131101.CreateTrail",
                                   {"Name": trail, "S3BucketName": bucket})
    check(status == 200 and out.get("Name") == trail, (status, out))
    status, out = signed_json_call(
        "cloudtrail", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.DescribeTrails",
        {"trailNameList": [trail]})
    check(status == 200 and [t["Name"] for t in out["trailList"]] == [trail], (status, out))
    status, out = signed_json_call("cloudtrail", "CloudTrail_20131101.DeleteTrail", {"Name": trail})
    check(status == 200, (status, out))


def case_test_event_pattern():
    folder = os.path.join(TESTDATA, "eventbridge-patterns")
    names = sorted(f for f in os.listdir(folder) if f.endswith(".json5"))
    agree, disagree = 0, []
    for name in names:
        with open(os.path.join(folder, name)) as f:
            case = json5_loads(f.read())
        stem = name[:-len(".json5")]
        expected = "EXC" if stem.endswith("_EXC") else (False if stem.endswith("_NEG") else True)
        try:
            got = events.test_event_pattern(EventPattern=json.dumps(case["EventPattern"]),
                                            Event=json.dumps(case["Event"]))["Result"]
        except botocore.exceptions.ClientError as e:
            got = "EXC" if e.response["Error"]["Code"] == "InvalidEventPatternException" else e.response["Error"]["Code"]
        if got == expected:
            agree += 1
        else:
            disagree.append(f"{stem}: expected {expected}, got {got}")
    print(f"TestEventPattern agrees with AWS on {agree}/{len(names)} cases")
    check(not disagree, "\n".join(disagree))


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit(f"usage: events_e2e.py {{{','.join(sorted(CASES))}}}")
    try:
        CASES[sys.argv[1]]()
    except AssertionError as e:
        print(f"FAILED {sys.argv[1]}: {e}")
        sys.exit(1)
    print(f"ok {sys.argv[1]}")
