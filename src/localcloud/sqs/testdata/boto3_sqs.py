"""SQS through boto3 (query protocol in boto3 1.26) against localcloud.

Usage: boto3_sqs.py ENDPOINT SCENARIO. Prints lines the C++ test compares exactly.
"""
import hashlib
import json
import struct
import sys
import time

import boto3
from botocore.exceptions import ClientError

endpoint, scenario = sys.argv[1], sys.argv[2]
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-west-2")


def md5_of_attributes(attrs):
    def enc(b):
        return struct.pack(">I", len(b)) + b
    buf = b""
    for name in sorted(attrs):
        v = attrs[name]
        buf += enc(name.encode()) + enc(v["DataType"].encode())
        if "BinaryValue" in v:
            buf += b"\x02" + enc(v["BinaryValue"])
        else:
            buf += b"\x01" + enc(v["StringValue"].encode())
    return hashlib.md5(buf).hexdigest()


if scenario == "basic":
    url = sqs.create_queue(QueueName="jobs", tags={"team": "events"})["QueueUrl"]
    print("url", url.split("/", 3)[3])
    print("tags", sqs.list_queue_tags(QueueUrl=url)["Tags"])
    attrs = {"kind": {"DataType": "String", "StringValue": "image"},
             "n": {"DataType": "Number", "StringValue": "7"},
             "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}
    sent = sqs.send_message(QueueUrl=url, MessageBody="héllo wörld", MessageAttributes=attrs)
    print("md5 body ok", sent["MD5OfMessageBody"] == hashlib.md5("héllo wörld".encode()).hexdigest())
    print("md5 attrs ok", sent["MD5OfMessageAttributes"] == md5_of_attributes(attrs))
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"],
                              WaitTimeSeconds=1)["Messages"]
    m = got[0]
    print("received", len(got), m["Body"], m["MessageId"] == sent["MessageId"])
    print("attrs", sorted(m["MessageAttributes"]), m["MessageAttributes"]["raw"]["BinaryValue"])
    print("md5 received ok", m["MD5OfMessageAttributes"] == md5_of_attributes(attrs))
    print("receive count", m["Attributes"]["ApproximateReceiveCount"],
          int(m["Attributes"]["SentTimestamp"]) > 1600000000000)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    print("after delete", a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"],
          a["QueueArn"])
    entries = [{"Id": "e%d" % i, "MessageBody": "m%d" % i} for i in range(10)]
    r = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    print("batch", len(r["Successful"]), len(r.get("Failed", [])))
    try:
        sqs.send_message_batch(QueueUrl=url, Entries=entries + [{"Id": "x", "MessageBody": "x"}])
    except ClientError as e:
        print("too many", e.response["Error"]["Code"])
    try:
        sqs.send_message(QueueUrl=url, MessageBody="x" * (256 * 1024 + 1))
    except ClientError as e:
        print("too big", e.response["Error"]["Code"])
    try:
        sqs.get_queue_url(QueueName="nope")
    except ClientError as e:
        print("missing", e.response["Error"]["Code"])
    bodies = set()
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        bodies.update(m["Body"] for m in got)
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
    print("drained", len(bodies))
    print("queues", [u.rsplit("/", 1)[1] for u in sqs.list_queues()["QueueUrls"]])
elif scenario == "visibility":
    url = sqs.create_queue(QueueName="vis", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    print("hidden", "Messages" in sqs.receive_message(QueueUrl=url))
    time.sleep(1.3)
    second = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], WaitTimeSeconds=5)["Messages"][0]
    print("redelivered", second["MessageId"] == first["MessageId"],
          second["Attributes"]["ApproximateReceiveCount"],
          second["Attributes"]["ApproximateFirstReceiveTimestamp"] ==
          first["Attributes"]["ApproximateFirstReceiveTimestamp"])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"],
                                  VisibilityTimeout=0)
    third = sqs.receive_message(QueueUrl=url)["Messages"][0]
    print("visible again", third["MessageId"] == first["MessageId"])
elif scenario == "dlq":
    dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(QueueName="work", Attributes={
        "VisibilityTimeout": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})})["QueueUrl"]
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    counts = []
    for _ in range(3):
        got = sqs.receive_message(QueueUrl=src, AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
        counts.append(got[0]["Attributes"]["ApproximateReceiveCount"] if got else "none")
    print("receives", counts)
    moved = sqs.receive_message(QueueUrl=dlq).get("Messages", [])
    print("in dlq", [m["Body"] for m in moved])
    print("sources", [u.rsplit("/", 1)[1] for u in sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]])
elif scenario == "fifo":
    url = sqs.create_queue(QueueName="orders.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for body, group in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("a1", "a")]:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    print("first", [m["Body"] for m in got])
    other = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    print("while a in flight", [m["Body"] for m in other])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    print("after delete", [m["Body"] for m in rest])
    try:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    except ClientError as e:
        print("no group", e.response["Error"]["Code"])
elif scenario == "wait":
    # Long polls until the message comes. A poll that returns it must do so before its
    # 20 s deadline: an emulator that only looks at the deadline would take 20 s.
    url = sys.argv[3]
    sqs.get_queue_attributes(QueueUrl=url)  # connection and credentials ready
    print("polling", flush=True)
    for _ in range(3):
        start = time.time()
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", [])
        if got:
            print("waited", [m["Body"] for m in got], time.time() - start < 19)
            break
elif scenario == "sts":
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-west-2")
    print("identity", sts.get_caller_identity()["Arn"])
    token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJkcml2ZXIiLCJpc3MiOiJodHRwczovL2lzc3VlciJ9.c2ln"
    creds = sts.assume_role_with_web_identity(RoleArn="arn:aws:iam::000000000000:role/driver",
                                              RoleSessionName="s1", WebIdentityToken=token)
    c = creds["Credentials"]
    print("assumed", creds["AssumedRoleUser"]["Arn"], creds["SubjectFromWebIdentityToken"])
    temp = boto3.client("sts", endpoint_url=endpoint, region_name="us-west-2",
                        aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                        aws_session_token=c["SessionToken"])
    print("as role", temp.get_caller_identity()["Arn"])
    bad = boto3.client("sts", endpoint_url=endpoint, region_name="us-west-2",
                       aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"])
    try:
        bad.get_caller_identity()
    except ClientError as e:
        print("no token", e.response["Error"]["Code"])
