#!/usr/bin/env python3
"""Dispatch python3 function server (standard library only).

Usage: function_server.py FUNCTION_FILE [HANDLER]   (HANDLER defaults to "handle")

Loads FUNCTION_FILE and serves the Dispatch function protocol on $PORT (127.0.0.1, or $HOST;
port 0 picks a free one), printing "listening on http://HOST:PORT" on stdout once serving (the
dispatch server starts functions with PORT=0 and reads the port from that line):
  GET  /healthz  -> 200
  POST /         {"context": {...}, "payload": ...} -> the JSON result of
                 handler(context, payload); errors as
                 {"type": "InputError"|"FunctionError"|"SystemError", "message", "stacktrace"}
                 with 400 / 500 / 502.
A plain CloudEvents 1.0 HTTP request (binary mode with ce-* headers, or structured mode with
Content-Type application/cloudevents+json) is accepted too: the event becomes context.event
and its data the payload.

A handler signals bad input by raising ValueError (-> InputError); any other exception is a
FunctionError. Requests are served on threads, so a handler should be thread-safe.
"""

import http.server
import importlib.util
import json
import os
import socketserver
import sys
import traceback

MAX_BODY = 64 * 1024 * 1024


def load_handler(path, name):
    spec = importlib.util.spec_from_file_location("dispatch_function", path)
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load function file %s" % path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(module)
    handler = getattr(module, name, None)
    if not callable(handler):
        raise RuntimeError("function file %s has no callable %r" % (path, name))
    return handler


def error_body(kind, message, stacktrace=None):
    return {"type": kind, "message": message, "stacktrace": stacktrace or []}


STATUS = {"InputError": 400, "FunctionError": 500, "SystemError": 502}


def cloudevent_from_request(headers, body):
    """Returns (context, payload) for a CloudEvents 1.0 request, or None if it is not one."""
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type == "application/cloudevents+json":
        event = json.loads(body)
        if not isinstance(event, dict):
            raise ValueError("structured CloudEvent must be a JSON object")
        payload = event.get("data")
        return {"event": event, "secrets": {}}, payload
    if headers.get("ce-specversion"):
        event = {}
        for key, value in headers.items():
            if key.lower().startswith("ce-"):
                event[key[3:].lower()] = value
        if content_type:
            event["datacontenttype"] = content_type
        payload = None
        if body:
            if content_type in ("", "application/json") or content_type.endswith("+json"):
                payload = json.loads(body)
            else:
                payload = body.decode("utf-8", "replace")
        event["data"] = payload
        return {"event": event, "secrets": {}}, payload
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    function = None

    def log_message(self, fmt, *args):  # keep request lines out of the function's logs
        pass

    def send_json(self, status, value):
        try:
            data = json.dumps(value).encode("utf-8")
        except (TypeError, ValueError) as e:
            status = 500
            data = json.dumps(error_body("FunctionError",
                                         "result is not JSON serializable: %s" % e)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.split("?")[0] == "/healthz":
            self.send_json(200, {})
        else:
            self.send_json(404, error_body("InputError", "not found"))

    def do_POST(self):
        if self.path.split("?")[0] != "/":
            self.send_json(404, error_body("InputError", "not found"))
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.send_json(400, error_body("InputError", "bad or oversized body"))
            return
        body = self.rfile.read(length) if length else b""
        try:
            ce = cloudevent_from_request(self.headers, body)
            if ce is not None:
                context, payload = ce
            else:
                request = json.loads(body or b"null")
                if not isinstance(request, dict):
                    raise ValueError("request must be a JSON object with context and payload")
                context = request.get("context") or {}
                payload = request.get("payload")
        except ValueError as e:
            self.send_json(400, error_body("InputError", "malformed request: %s" % e))
            return
        try:
            result = Handler.function(context, payload)
        except ValueError as e:
            self.send_json(400, error_body("InputError", str(e),
                                           traceback.format_exc().splitlines()))
            return
        except Exception as e:  # the function failed: report it, keep serving
            self.send_json(500, error_body("FunctionError", "%s: %s" % (type(e).__name__, e),
                                           traceback.format_exc().splitlines()))
            return
        self.send_json(200, result)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv):
    if len(argv) < 2:
        print("usage: function_server.py FUNCTION_FILE [HANDLER]", file=sys.stderr)
        return 2
    try:
        Handler.function = load_handler(argv[1], argv[2] if len(argv) > 2 else "handle")
    except Exception:
        traceback.print_exc()
        return 1
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8080"))
    server = Server((host, port), Handler)
    print("listening on http://%s:%d" % ("127.0.0.1" if host == "0.0.0.0" else host,
                                           server.server_address[1]), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main(sys.argv))
