"""S3 through boto3 1.26 against localcloud. Usage: boto3_s3.py ENDPOINT SCENARIO."""
import json
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, scenario = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-west-2",
                  config=Config(s3={"addressing_style": "path"}))


def code(fn):
    try:
        fn()
        return "ok"
    except ClientError as e:
        return "%s %s" % (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])


if scenario == "objects":
    s3.create_bucket(Bucket="pics", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    print("again", code(lambda: s3.create_bucket(
        Bucket="pics", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})))
    print("location", s3.get_bucket_location(Bucket="pics")["LocationConstraint"])
    r = s3.put_object(Bucket="pics", Key="a b/ünï.txt", Body=b"hello", ContentType="text/plain",
                      Metadata={"owner": "me"})
    print("etag", r["ETag"])
    g = s3.get_object(Bucket="pics", Key="a b/ünï.txt")
    print("get", g["Body"].read(), g["ContentType"], g["Metadata"], g["ContentLength"])
    h = s3.head_object(Bucket="pics", Key="a b/ünï.txt")
    print("head", h["ContentLength"], h["ETag"])
    rg = s3.get_object(Bucket="pics", Key="a b/ünï.txt", Range="bytes=1-3")
    print("range", rg["ResponseMetadata"]["HTTPStatusCode"], rg["Body"].read(), rg["ContentRange"])
    print("bad range", code(lambda: s3.get_object(Bucket="pics", Key="a b/ünï.txt", Range="bytes=10-")))
    s3.copy_object(Bucket="pics", Key="copy+1.txt", CopySource={"Bucket": "pics", "Key": "a b/ünï.txt"})
    c = s3.get_object(Bucket="pics", Key="copy+1.txt")
    print("copy", c["Body"].read(), c["Metadata"])
    print("no key", code(lambda: s3.get_object(Bucket="pics", Key="missing")))
    print("no bucket", code(lambda: s3.get_object(Bucket="nobucket", Key="x")))
    print("head missing", code(lambda: s3.head_object(Bucket="pics", Key="missing")))
    print("not empty", code(lambda: s3.delete_bucket(Bucket="pics")))
    for i in range(7):
        s3.put_object(Bucket="pics", Key="dir%d/file%d" % (i % 3, i), Body=b"x")
    pages, keys, prefixes = 0, [], []
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket="pics", PaginationConfig={"PageSize": 2}):
        pages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
    print("paged", pages, keys)
    top = s3.list_objects_v2(Bucket="pics", Delimiter="/")
    print("delimited", [o["Key"] for o in top.get("Contents", [])],
          [p["Prefix"] for p in top["CommonPrefixes"]])
    sub = s3.list_objects_v2(Bucket="pics", Prefix="dir1/", Delimiter="/")
    print("prefix", [o["Key"] for o in sub["Contents"]], sub["KeyCount"])
    roll = s3.list_objects_v2(Bucket="pics", Delimiter="/", MaxKeys=2)
    rest = s3.list_objects_v2(Bucket="pics", Delimiter="/", MaxKeys=10,
                              ContinuationToken=roll["NextContinuationToken"])
    print("continued", [p["Prefix"] for p in roll["CommonPrefixes"]], roll["IsTruncated"],
          [p["Prefix"] for p in rest.get("CommonPrefixes", [])], [o["Key"] for o in rest.get("Contents", [])])
    d = s3.delete_objects(Bucket="pics", Delete={"Objects": [{"Key": "dir%d/file%d" % (i % 3, i)} for i in range(7)]})
    print("deleted", len(d["Deleted"]))
    print("empty policy", code(lambda: s3.put_bucket_policy(
        Bucket="pics", Policy='{"Version":"2012-10-17","Statement":[]}')))
    print("no principal", code(lambda: s3.put_bucket_policy(Bucket="pics", Policy=json.dumps({
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::pics/*"}]}))))
    print("other bucket", code(lambda: s3.put_bucket_policy(Bucket="pics", Policy=json.dumps({
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                       "Resource": "arn:aws:s3:::other/*"}]}))))
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::pics"}]})
    s3.put_bucket_policy(Bucket="pics", Policy=policy)
    print("policy", s3.get_bucket_policy(Bucket="pics")["Policy"] == policy)
    s3.delete_bucket_policy(Bucket="pics")
    print("policy deleted", code(lambda: s3.get_bucket_policy(Bucket="pics")))
    # S3 validates a queue destination (and sends it an s3:TestEvent): the queue must exist
    # and its policy must let s3.amazonaws.com send to it from this bucket.
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-west-2")
    events_url = sqs.create_queue(QueueName="events")["QueueUrl"]
    notification = {
        "EventBridgeConfiguration": {},
        "QueueConfigurations": [{"Id": "q1", "QueueArn": "arn:aws:sqs:us-west-2:000000000000:events",
                                 "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "img/"}]}}}]}
    print("queue without policy", code(lambda: s3.put_bucket_notification_configuration(
        Bucket="pics", NotificationConfiguration=notification)))
    sqs.set_queue_attributes(QueueUrl=events_url, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
            "Resource": "arn:aws:sqs:us-west-2:000000000000:events",
            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::pics"}}}]})})
    s3.put_bucket_notification_configuration(Bucket="pics", NotificationConfiguration=notification)
    n = s3.get_bucket_notification_configuration(Bucket="pics")
    q = n["QueueConfigurations"][0]
    print("notification", "EventBridgeConfiguration" in n, q["Id"], q["Events"], q["Filter"]["Key"]["FilterRules"])
    for k in ["a b/ünï.txt", "copy+1.txt"]:
        s3.delete_object(Bucket="pics", Key=k)
    s3.delete_bucket(Bucket="pics")
    print("buckets", [b["Name"] for b in s3.list_buckets()["Buckets"]])
elif scenario == "multipart":
    s3.create_bucket(Bucket="big", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    up = s3.create_multipart_upload(Bucket="big", Key="m")["UploadId"]
    p1 = s3.upload_part(Bucket="big", Key="m", UploadId=up, PartNumber=1, Body=b"a" * (5 * 1024 * 1024))
    p2 = s3.upload_part(Bucket="big", Key="m", UploadId=up, PartNumber=2, Body=b"b" * 10)
    print("small part", code(lambda: s3.complete_multipart_upload(
        Bucket="big", Key="m", UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": 2, "ETag": p2["ETag"]}, {"PartNumber": 1, "ETag": p1["ETag"]}]})))
    done = s3.complete_multipart_upload(Bucket="big", Key="m", UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
    print("etag", done["ETag"])
    print("size", s3.head_object(Bucket="big", Key="m")["ContentLength"])
    print("gone", code(lambda: s3.upload_part(Bucket="big", Key="m", UploadId=up, PartNumber=3, Body=b"x")))
    # With a checksum algorithm: each part answers with its checksum, the object gets a
    # composite one ("<checksum of the part checksums>-<parts>").
    import base64
    import zlib
    crc = lambda b: base64.b64encode(zlib.crc32(b).to_bytes(4, "big")).decode()
    created = s3.create_multipart_upload(Bucket="big", Key="c", ChecksumAlgorithm="CRC32")
    print("algorithm", created.get("ChecksumAlgorithm"))
    up = created["UploadId"]
    one, two = b"c" * (5 * 1024 * 1024), b"d" * 7
    p1 = s3.upload_part(Bucket="big", Key="c", UploadId=up, PartNumber=1, Body=one, ChecksumAlgorithm="CRC32")
    p2 = s3.upload_part(Bucket="big", Key="c", UploadId=up, PartNumber=2, Body=two, ChecksumAlgorithm="CRC32")
    print("part checksums", p1.get("ChecksumCRC32") == crc(one), p2.get("ChecksumCRC32") == crc(two))
    done = s3.complete_multipart_upload(Bucket="big", Key="c", UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["ETag"], "ChecksumCRC32": p1["ChecksumCRC32"]},
        {"PartNumber": 2, "ETag": p2["ETag"], "ChecksumCRC32": p2["ChecksumCRC32"]}]})
    composite = crc(base64.b64decode(crc(one)) + base64.b64decode(crc(two))) + "-2"
    print("composite", done.get("ChecksumCRC32") == composite)
    head = s3.head_object(Bucket="big", Key="c", ChecksumMode="ENABLED")
    print("head checksum", head.get("ChecksumCRC32") == composite)
