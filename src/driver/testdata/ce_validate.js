// Validates captured HTTP requests with the official CloudEvents SDK (npm `cloudevents`).
// Usage: node ce_validate.js REQUESTS.json  (an array of {headers: {...}, body: "..."})
// Prints one line per request: "ok <type> <id>" or "invalid: <reason>"; exits 1 if any failed.
const fs = require("fs");
const { HTTP } = require("cloudevents");

const requests = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
let failed = 0;
for (const r of requests) {
  try {
    const events = [].concat(HTTP.toEvent({ headers: r.headers, body: r.body }));
    for (const e of events) {
      e.validate();
      console.log(`ok ${e.type} ${e.id} ${e.sourcetype || ""}`);
    }
  } catch (err) {
    failed++;
    console.log(`invalid: ${err.message || err} ${JSON.stringify(err.errors || "")}`);
  }
}
process.exit(failed ? 1 : 0);
