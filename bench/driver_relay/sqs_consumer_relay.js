// The comparison relay: npm's sqs-consumer (the most used SQS consumer library) receiving from
// the same queue and forwarding each message as a CloudEvent (binary mode) to the same sink,
// deleting it after the sink's 2xx, as the driver does.
const { Consumer } = require("sqs-consumer");
const { SQSClient } = require("@aws-sdk/client-sqs");
const http = require("http");

const [queueUrl, sinkUrl, endpoint, concurrency] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const sink = new URL(sinkUrl);

function post(message) {
  const event = JSON.parse(message.Body);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: sink.hostname, port: sink.port, path: "/", method: "POST", agent,
      headers: {
        "content-type": "application/json", "ce-specversion": "1.0", "ce-id": event.id,
        "ce-source": "aws", "ce-type": event.source,
      },
    }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode < 300 ? resolve() : reject(new Error("sink " + res.statusCode))));
    });
    req.on("error", reject);
    req.end(message.Body);
  });
}

const consumers = [];
for (let i = 0; i < Number(concurrency || 1); i++) {
  const c = Consumer.create({
    queueUrl,
    batchSize: 10,
    waitTimeSeconds: 1,
    sqs: new SQSClient({
      endpoint, region: "us-west-2",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    }),
    handleMessage: async (m) => { await post(m); return m; },
  });
  c.on("error", (e) => console.error("error", e.message));
  c.on("processing_error", (e) => console.error("processing_error", e.message));
  c.start();
  consumers.push(c);
}
process.on("SIGTERM", () => { consumers.forEach((c) => c.stop()); process.exit(0); });
console.log("started");
