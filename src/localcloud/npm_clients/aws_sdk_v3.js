// The AWS SDK for JavaScript v3 against localcloud: S3 (with its default checksums and
// checksum-mode reads) and SQS (JSON protocol). Usage: node aws_sdk_v3.js ENDPOINT
// Prints one JSON line of what it observed; exits non-zero on any error.
const { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
        DeleteObjectCommand, DeleteBucketCommand } = require("@aws-sdk/client-s3");
const { SQSClient, CreateQueueCommand, SendMessageCommand, ReceiveMessageCommand,
        DeleteMessageCommand, DeleteQueueCommand } = require("@aws-sdk/client-sqs");

async function main() {
  const endpoint = process.argv[2];
  const common = { endpoint, region: "us-west-2",
                   credentials: { accessKeyId: "test", secretAccessKey: "test" } };
  const s3 = new S3Client({ ...common, forcePathStyle: true });
  const out = {};
  await s3.send(new CreateBucketCommand({
    Bucket: "sdkv3", CreateBucketConfiguration: { LocationConstraint: "us-west-2" } }));
  const put = await s3.send(new PutObjectCommand({
    Bucket: "sdkv3", Key: "dir/hello world.txt", Body: "hello from sdk v3",
    ChecksumAlgorithm: "CRC32" }));
  out.putChecksum = put.ChecksumCRC32 || null;
  const got = await s3.send(new GetObjectCommand({
    Bucket: "sdkv3", Key: "dir/hello world.txt", ChecksumMode: "ENABLED" }));
  out.body = await got.Body.transformToString();
  out.getChecksum = got.ChecksumCRC32 || null;
  const head = await s3.send(new HeadObjectCommand({ Bucket: "sdkv3", Key: "dir/hello world.txt" }));
  out.length = head.ContentLength;
  await s3.send(new DeleteObjectCommand({ Bucket: "sdkv3", Key: "dir/hello world.txt" }));
  await s3.send(new DeleteBucketCommand({ Bucket: "sdkv3" }));

  const sqs = new SQSClient(common);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "sdkv3" }));
  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "queued ☃",
    MessageAttributes: { kind: { DataType: "String", StringValue: "greeting" } } }));
  const r = await sqs.send(new ReceiveMessageCommand({
    QueueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 2, MessageAttributeNames: ["All"] }));
  out.message = r.Messages[0].Body;
  out.attribute = r.Messages[0].MessageAttributes.kind.StringValue;
  await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: r.Messages[0].ReceiptHandle }));
  await sqs.send(new DeleteQueueCommand({ QueueUrl }));
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e.name + ": " + e.message); process.exit(1); });
