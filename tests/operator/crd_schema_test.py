#!/usr/bin/python3
"""Every manifest in deploy/knative against the Knative CRD schemas (part of `make test`).

The CRDs of Knative Serving (Service) and Eventing (ContainerSource, SinkBinding, Trigger) are
kept unmodified in testdata/knative (source, commit and licence in testdata/NOTICE). For each
document of a Knative kind, the served version's openAPIV3Schema is turned into a JSON Schema
and the document (spec and metadata) is validated with jsonschema. The Kubernetes extensions
are honoured as the API server does with strict field validation (kubectl's default):
  - an object with no x-kubernetes-preserve-unknown-fields accepts only its listed properties
    (unknown fields are errors); with it, any further property is accepted;
  - x-kubernetes-int-or-string accepts an integer or a string;
  - x-kubernetes-embedded-resource also accepts apiVersion, kind and metadata;
  - nullable accepts null.
metadata is checked against ObjectMeta's shape (name, labels, annotations, ...).
Core Kubernetes kinds (Secret, ServiceAccount, Deployment) have no CRD here: they are checked
only structurally (apiVersion, kind, metadata.name are strings; metadata's shape).
Negative checks prove the test can fail: copies with a wrong field type or an unknown field
must be rejected. No network: everything is read from the tree.
"""
import copy
import glob
import os
import sys

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/
from checks import check, step_failed, summary

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRD_DIR = os.path.join(ROOT, "testdata", "knative")
MANIFEST_DIR = os.path.join(ROOT, "deploy", "knative")

CORE_KINDS = {("v1", "Secret"), ("v1", "ServiceAccount"), ("apps/v1", "Deployment")}

STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
OBJECT_META = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 253,
                 "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": False,
}


def to_json_schema(s):
    """A Kubernetes structural schema (openAPIV3Schema) as a JSON Schema."""
    if not isinstance(s, dict):
        return s
    out = {}
    for k, v in s.items():
        if k in ("properties", "patternProperties", "definitions"):
            out[k] = {name: to_json_schema(sub) for name, sub in v.items()}
        elif k in ("items", "additionalProperties", "not"):
            out[k] = to_json_schema(v) if isinstance(v, dict) else v
        elif k in ("allOf", "anyOf", "oneOf"):
            out[k] = [to_json_schema(sub) for sub in v]
        elif k.startswith("x-kubernetes-") or k in ("nullable", "format", "description",
                                                     "example", "externalDocs"):
            continue
        else:
            out[k] = v
    if s.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("allOf", []).append({"type": ["integer", "string"]})
    if s.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    if s.get("type") == "object" and "additionalProperties" not in s:
        if not s.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    if s.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def load_crds():
    """(group/version, kind) -> the JSON Schema of that served version."""
    crds = {}
    for path in sorted(glob.glob(os.path.join(CRD_DIR, "*.yaml"))):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                for ver in spec["versions"]:
                    if not ver.get("served"):
                        continue
                    schema = dict(ver["schema"]["openAPIV3Schema"])
                    props = dict(schema.get("properties", {}))
                    props.pop("metadata", None)  # validated as ObjectMeta below
                    props.setdefault("apiVersion", {"type": "string"})
                    props.setdefault("kind", {"type": "string"})
                    schema["properties"] = props
                    js = to_json_schema(schema)
                    js["properties"]["metadata"] = OBJECT_META
                    js.setdefault("required", [])
                    js["required"] = sorted(set(js["required"]) | {"apiVersion", "kind",
                                                                    "metadata"})
                    key = (f"{spec['group']}/{ver['name']}", spec["names"]["kind"])
                    crds[key] = (js, os.path.basename(path))
    return crds


CORE_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata"],
    "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"},
                   "metadata": OBJECT_META},
}


def errors(schema, doc):
    """'path: message' for every violation of schema by doc, deepest paths first."""
    v = jsonschema.Draft7Validator(schema)
    out = []
    for e in sorted(v.iter_errors(doc), key=lambda e: (-len(e.absolute_path), str(e.path))):
        path = ".".join(str(p) for p in e.absolute_path) or "(document)"
        out.append(f"{path}: {e.message[:300]}")
    return out


def main():
    try:
        crds = load_crds()
        for want in [("serving.knative.dev/v1", "Service"),
                     ("sources.knative.dev/v1", "ContainerSource"),
                     ("sources.knative.dev/v1", "SinkBinding"),
                     ("eventing.knative.dev/v1", "Trigger")]:
            check(f"CRD for {want[1]} ({want[0]}) in testdata/knative", want in crds)

        docs = []
        for path in sorted(glob.glob(os.path.join(MANIFEST_DIR, "*.yaml"))):
            with open(path) as f:
                for i, doc in enumerate(yaml.safe_load_all(f)):
                    if doc:
                        docs.append((f"{os.path.basename(path)}#{i}", doc))
        check("manifests found", len(docs) >= 6, str(len(docs)))

        def schema_for(doc):
            key = (doc.get("apiVersion"), doc.get("kind"))
            if key in crds:
                return crds[key][0], f"CRD {crds[key][1]}"
            if key in CORE_KINDS:
                return CORE_SCHEMA, "core kind, structure only"
            return None, None

        for where, doc in docs:
            schema, how = schema_for(doc)
            name = doc.get("metadata", {}).get("name")
            label = f"{where} {doc.get('apiVersion')} {doc.get('kind')} {name}"
            if schema is None:
                check(f"{label}: a schema for its apiVersion/kind", False,
                      "no CRD in testdata/knative and not a known core kind")
                continue
            errs = errors(schema, doc)
            check(f"{label} valid ({how})", not errs, "; ".join(errs))

        # Negative checks: the validation must reject what the API server rejects.
        by_kind = {d.get("kind"): d for _, d in docs}

        def must_fail(what, kind, mutate, expect_path):
            doc = copy.deepcopy(by_kind[kind])
            mutate(doc)
            errs = errors(schema_for(doc)[0], doc)
            check(f"rejected: {what}", any(e.startswith(expect_path + ":") for e in errs),
                  "; ".join(errs) or "no error")

        def must_pass(what, kind, mutate):
            doc = copy.deepcopy(by_kind[kind])
            mutate(doc)
            errs = errors(schema_for(doc)[0], doc)
            check(f"accepted: {what}", not errs, "; ".join(errs))

        def set_in(doc, path, value):
            for p in path[:-1]:
                doc = doc[p]
            doc[path[-1]] = value

        must_fail("Service spec.template as a string", "Service",
                  lambda d: set_in(d, ["spec", "template"], "oops"), "spec.template")
        must_fail("ContainerSource spec.template as a string", "ContainerSource",
                  lambda d: set_in(d, ["spec", "template"], "oops"), "spec.template")
        must_fail("Service unknown field spec.template.spec.containers[0].imag", "Service",
                  lambda d: set_in(d, ["spec", "template", "spec", "containers", 0, "imag"],
                                   "x"), "spec.template.spec.containers.0")
        must_fail("Trigger spec.broker as a number", "Trigger",
                  lambda d: set_in(d, ["spec", "broker"], 3), "spec.broker")
        must_fail("SinkBinding unknown field spec.sinks", "SinkBinding",
                  lambda d: set_in(d, ["spec", "sinks"], {}), "spec")
        must_fail("metadata.name as a number", "ServiceAccount",
                  lambda d: set_in(d, ["metadata", "name"], 7), "metadata.name")
        # x-kubernetes-int-or-string: a probe's port may be a number or a name.
        must_pass("Service probe httpGet.port as an integer", "Service",
                  lambda d: set_in(d, ["spec", "template", "spec", "containers", 0,
                                       "readinessProbe", "httpGet", "port"], 8080))
        must_pass("Service probe httpGet.port as a name", "Service",
                  lambda d: set_in(d, ["spec", "template", "spec", "containers", 0,
                                       "readinessProbe", "httpGet", "port"], "http1"))
        must_fail("Service probe httpGet.port as a list", "Service",
                  lambda d: set_in(d, ["spec", "template", "spec", "containers", 0,
                                       "readinessProbe", "httpGet", "port"], [1]),
                  "spec.template.spec.containers.0.readinessProbe.httpGet.port")
    except Exception as e:  # noqa: BLE001
        step_failed("CRD schema test", e)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
