#!/usr/bin/env node
// Dispatch nodejs function server (node's standard library only).
//
// Usage: function_server.js FUNCTION_FILE [HANDLER]
//
// Loads FUNCTION_FILE, a CommonJS module in Dispatch's nodejs form
//     module.exports = function (context, params) { ... }
// (or, when the module exports an object, its HANDLER member, "handle" by default), and serves
// the Dispatch function protocol on $PORT (127.0.0.1, or $HOST; port 0 picks a free one):
//   GET  /healthz  -> 200
//   POST /         {"context": {...}, "payload": ...} -> the JSON result of
//                  handler(context, payload), which may return a value or a promise; errors as
//                  {"type": "InputError"|"FunctionError"|"SystemError", "message", "stacktrace"}
//                  with 400 / 500 / 502.
// A plain CloudEvents 1.0 HTTP request (binary mode with ce-* headers, or structured mode with
// Content-Type application/cloudevents+json) is accepted too: the event becomes context.event
// and its data the payload.
// Once serving it prints "listening on http://HOST:PORT" on stdout.
//
// A handler signals bad input by throwing (or rejecting with) an error whose name is
// "InputError" (or that has `inputError: true`): -> InputError, not retried. Any other error
// is a FunctionError.
'use strict';

const http = require('http');
const path = require('path');

const MAX_BODY = 64 * 1024 * 1024;
const STATUS = { InputError: 400, FunctionError: 500, SystemError: 502 };

function errorBody(type, message, stacktrace) {
  return { type, message, stacktrace: stacktrace || [] };
}

function stackLines(err) {
  return err && typeof err.stack === 'string' ? err.stack.split('\n') : [];
}

function loadHandler(file, name) {
  const mod = require(path.resolve(file));
  if (typeof mod === 'function') return mod;
  if (mod && typeof mod[name] === 'function') return mod[name];
  if (mod && typeof mod.default === 'function') return mod.default;
  throw new Error(`function file ${file} exports no function (nor a function named ${name})`);
}

// Returns [context, payload] for a CloudEvents 1.0 request, or null if it is not one.
function cloudEventFromRequest(headers, body) {
  const contentType = (headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  if (contentType === 'application/cloudevents+json') {
    const event = JSON.parse(body.toString('utf8'));
    if (event === null || typeof event !== 'object' || Array.isArray(event)) {
      throw new SyntaxError('structured CloudEvent must be a JSON object');
    }
    return [{ event, secrets: {} }, event.data === undefined ? null : event.data];
  }
  if (headers['ce-specversion']) {
    const event = {};
    for (const [key, value] of Object.entries(headers)) {
      if (key.startsWith('ce-')) event[key.slice(3)] = value;
    }
    if (contentType) event.datacontenttype = contentType;
    let payload = null;
    if (body.length) {
      if (contentType === '' || contentType === 'application/json' || contentType.endsWith('+json')) {
        payload = JSON.parse(body.toString('utf8'));
      } else {
        payload = body.toString('utf8');
      }
    }
    event.data = payload;
    return [{ event, secrets: {} }, payload];
  }
  return null;
}

function sendJson(res, status, value) {
  let data;
  try {
    data = JSON.stringify(value === undefined ? null : value);
  } catch (err) {
    status = 500;
    data = JSON.stringify(errorBody('FunctionError', `result is not JSON serializable: ${err.message}`));
  }
  const bytes = Buffer.from(data, 'utf8');
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': bytes.length });
  res.end(bytes);
}

function isInputError(err) {
  return Boolean(err) && (err.name === 'InputError' || err.inputError === true);
}

async function handlePost(handler, req, res, body) {
  let context;
  let payload;
  try {
    const ce = cloudEventFromRequest(req.headers, body);
    if (ce !== null) {
      [context, payload] = ce;
    } else {
      const request = body.length ? JSON.parse(body.toString('utf8')) : null;
      if (request === null || typeof request !== 'object' || Array.isArray(request)) {
        throw new SyntaxError('request must be a JSON object with context and payload');
      }
      context = request.context || {};
      payload = request.payload === undefined ? null : request.payload;
    }
  } catch (err) {
    sendJson(res, 400, errorBody('InputError', `malformed request: ${err.message}`));
    return;
  }
  try {
    const result = await handler(context, payload);
    sendJson(res, 200, result);
  } catch (err) {
    const type = isInputError(err) ? 'InputError' : 'FunctionError';
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    sendJson(res, STATUS[type], errorBody(type, message, stackLines(err)));
  }
}

function main(argv) {
  if (argv.length < 1) {
    process.stderr.write('usage: function_server.js FUNCTION_FILE [HANDLER]\n');
    return 2;
  }
  let handler;
  try {
    handler = loadHandler(argv[0], argv[1] || 'handle');
  } catch (err) {
    process.stderr.write(`${err.stack || err}\n`);
    return 1;
  }
  const server = http.createServer((req, res) => {
    const url = (req.url || '/').split('?')[0];
    if (req.method === 'GET' && url === '/healthz') {
      sendJson(res, 200, {});
      return;
    }
    if (req.method !== 'POST' || url !== '/') {
      req.resume();
      sendJson(res, 404, errorBody('InputError', 'not found'));
      return;
    }
    const chunks = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        tooBig = true;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooBig) {
        sendJson(res, 400, errorBody('InputError', 'bad or oversized body'));
        return;
      }
      handlePost(handler, req, res, Buffer.concat(chunks)).catch((err) => {
        sendJson(res, 502, errorBody('SystemError', String(err), stackLines(err)));
      });
    });
  });
  server.keepAliveTimeout = 600 * 1000;  // the runner keeps its connections open
  const host = process.env.HOST || '127.0.0.1';
  const port = parseInt(process.env.PORT || '8080', 10);
  server.listen(port, host, () => {
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    process.stdout.write(`listening on http://${shown}:${server.address().port}\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return 0;
}

const code = main(process.argv.slice(2));
if (code !== 0) process.exit(code);
