"""S3 and SQS edge cases through boto3 against localcloud (s3_limits_test.cc).

Usage: boto3_limits.py ENDPOINT SCENARIO [ARGS...]
  wire BUCKET             bucket + queue "BUCKET-events" notified of s3:ObjectCreated:*
  uploads BUCKET DIR      put_object of every file in DIR (sorted) from a file object, so
                          that botocore sends Expect: 100-continue; prints the slowest
  count BUCKET N          reads the queue until N object-created records arrived, then
                          for 2 s more; prints {"key": count} as JSON
  tagging                 Put/Get/DeleteBucketTagging and their errors
  foreign-queue           SQS calls naming another account's queue URL
"""
import json
import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, scenario, args = sys.argv[1], sys.argv[2], sys.argv[3:]
# One attempt: a retry would hide a request the server left hanging.
config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"},
                read_timeout=30, connect_timeout=5)
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-west-2", config=config)
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-west-2", config=config)


def code(fn):
    try:
        fn()
        return "ok"
    except ClientError as e:
        return "%s %s" % (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])


if scenario == "wire":
    bucket = args[0]
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    url = sqs.create_queue(QueueName=bucket + "-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # As on AWS, S3 sends to the queue only where the queue's policy allows it.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": arn,
            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::" + bucket}}}]})})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "all", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    print(url)
elif scenario == "uploads":
    bucket, folder = args
    slowest = 0.0
    for name in sorted(os.listdir(folder)):
        start = time.monotonic()
        with open(os.path.join(folder, name), "rb") as f:
            s3.put_object(Bucket=bucket, Key="boto/" + name, Body=f)
        slowest = max(slowest, time.monotonic() - start)
    print("slowest %.3f" % slowest)
elif scenario == "count":
    bucket, want = args[0], int(args[1])
    url = sqs.get_queue_url(QueueName=bucket + "-events")["QueueUrl"]
    counts, deadline, quiet_until = {}, time.monotonic() + 30, None
    while time.monotonic() < deadline:
        if quiet_until is None and sum(counts.values()) >= want:
            quiet_until = time.monotonic() + 2  # catch duplicates arriving late
        if quiet_until is not None and time.monotonic() > quiet_until:
            break
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in got.get("Messages", []):
            body = json.loads(m["Body"])
            for r in body.get("Records", []):
                if r["eventName"].startswith("ObjectCreated:"):
                    key = r["s3"]["object"]["key"]
                    counts[key] = counts.get(key, 0) + 1
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    print(json.dumps(counts, sort_keys=True))
elif scenario == "tagging":
    s3.create_bucket(Bucket="tagged", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    print("none", code(lambda: s3.get_bucket_tagging(Bucket="tagged")))
    s3.put_bucket_tagging(Bucket="tagged", Tagging={"TagSet": [
        {"Key": "team", "Value": "photos"}, {"Key": "cost centre", "Value": "ünï"}]})
    print("tags", s3.get_bucket_tagging(Bucket="tagged")["TagSet"])
    s3.put_bucket_tagging(Bucket="tagged", Tagging={"TagSet": [{"Key": "only", "Value": ""}]})
    print("replaced", s3.get_bucket_tagging(Bucket="tagged")["TagSet"])
    print("duplicate", code(lambda: s3.put_bucket_tagging(Bucket="tagged", Tagging={"TagSet": [
        {"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]})))
    print("system", code(lambda: s3.put_bucket_tagging(Bucket="tagged", Tagging={"TagSet": [
        {"Key": "aws:x", "Value": "1"}]})))
    print("no bucket", code(lambda: s3.get_bucket_tagging(Bucket="missing-bucket")))
    print("delete", s3.delete_bucket_tagging(Bucket="tagged")["ResponseMetadata"]["HTTPStatusCode"])
    print("after delete", code(lambda: s3.get_bucket_tagging(Bucket="tagged")))
elif scenario == "foreign-queue":
    url = sqs.create_queue(QueueName="mine")["QueueUrl"]
    foreign = url.replace("/000000000000/", "/111122223333/")
    print("send", code(lambda: sqs.send_message(QueueUrl=foreign, MessageBody="x")))
    print("receive", code(lambda: sqs.receive_message(QueueUrl=foreign)))
    print("attributes", code(lambda: sqs.get_queue_attributes(QueueUrl=foreign)))
    print("own", code(lambda: sqs.send_message(QueueUrl=url, MessageBody="x")))
else:
    sys.exit("unknown scenario " + scenario)
