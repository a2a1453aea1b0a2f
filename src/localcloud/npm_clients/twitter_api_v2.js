// The npm twitter-api-v2 client against localcloud's X sandbox: v2 chunked media upload
// (initialize/append/finalize), v1.1 media/upload.json (media_id_string), v2 and v1.1 posts.
// Usage: node twitter_api_v2.js LOCALCLOUD   (LOCALCLOUD = https://127.0.0.1:PORT, serving
// with its test CA, which NODE_EXTRA_CA_CERTS names). The client keeps X's own host names
// (api.x.com, upload.x.com) and its host-dependent encodings; only the TLS connections go to
// localcloud, which answers for those names.
const https = require("https");
const tls = require("tls");
const { TwitterApi } = require("twitter-api-v2");

class ToLocalcloud extends https.Agent {
  constructor(port) {
    super({ keepAlive: false });
    this.localPort = port;
  }
  createConnection(options, callback) {
    return tls.connect({ ...options, host: "127.0.0.1", port: this.localPort,
                         servername: options.servername || options.host }, callback);
  }
}

async function main() {
  const port = Number(new URL(process.argv[2]).port);
  const image = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
                               Buffer.alloc(200, 1)]);  // enough of a PNG for the sandbox
  const client = new TwitterApi(
    { appKey: "ck", appSecret: "cs", accessToken: "at", accessSecret: "ats" },
    { httpAgent: new ToLocalcloud(port) });
  const out = {};
  out.v2Media = await client.v2.uploadMedia(image, { media_type: "image/png" });
  out.v1Media = await client.v1.uploadMedia(image, { mimeType: "image/png" });
  const v2 = await client.v2.tweet("from twitter-api-v2", { media: { media_ids: [out.v2Media] } });
  out.v2Post = v2.data.id;
  const v1 = await client.v1.tweet("from twitter-api-v2 over v1.1", { media_ids: out.v1Media });
  out.v1Post = v1.id_str;
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error((e.name || "Error") + ": " + e.message + " " + JSON.stringify(e.data || ""));
  process.exit(1);
});
