"""Parses one HTTP response the way botocore does, for protocol_test.

Reads {"service", "operation", "status", "headers", "body"} (and optionally "protocol", to
force a parser) as JSON on stdin; prints what botocore's parser makes of the response as
JSON: the operation's output members, or {"Error": {"Code", "Message"}, ...} for an error.
Exits 3 when botocore is not installed (the test then skips).
"""
import json
import sys

try:
    import botocore.session
    from botocore import parsers
except ImportError:
    sys.exit(3)

spec = json.load(sys.stdin)
model = botocore.session.get_session().get_service_model(spec["service"])
operation = model.operation_model(spec["operation"])
parser = parsers.create_parser(spec.get("protocol") or model.metadata["protocol"])
response = {
    "status_code": spec["status"],
    "headers": {k.lower(): v for k, v in spec["headers"].items()},
    "body": spec["body"].encode("utf-8"),
}
parsed = parser.parse(response, operation.output_shape)
print(json.dumps(parsed, default=str))
