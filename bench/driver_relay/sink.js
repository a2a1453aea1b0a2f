// A minimal CloudEvents sink for the relay benchmark: counts events (binary mode, structured
// mode, or Dispatch's JSON arrays) and records, per event, the delay from the time the sender
// wrote into the event ("sent_ms") to its arrival. GET /stats returns the figures.
const http = require("http");
let count = 0;
let latencies = [];
function record(data) {
  count++;
  if (data && typeof data === "object") {
    const d = data.detail || data;
    if (d && d.sent_ms) latencies.push(Date.now() - d.sent_ms);
  }
}
const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/stats") {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ count, latencies }));
    return;
  }
  if (req.method === "POST" && req.url === "/reset") {
    count = 0;
    latencies = [];
    res.end();
    return;
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString() || "null");
      const ct = req.headers["content-type"] || "";
      if (Array.isArray(body)) body.forEach((e) => record(e.data));
      else if (ct.startsWith("application/cloudevents+json")) record(body.data);
      else if (body && body.eventType) record(body.data);
      else record(body);
    } catch (e) {
      count++;
    }
    res.statusCode = 202;
    res.end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
