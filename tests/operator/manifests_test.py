#!/usr/bin/python3
"""The Kubernetes/Knative manifests in deploy/knative (part of `make test`).

Checks what a cluster operator relies on: every document parses and names apiVersion, kind and
metadata.name; the driver's ContainerSource has a stable --source-id (so restarts reuse its
queue and rules) and no --clean-up; every image names the REGISTRY placeholder with a version;
the ServiceAccount the pods use exists with the IRSA role annotation; and the driver's arguments
in each manifest are accepted by the real dispatch-events-aws (its own flag parser, through
--print-iam-policy, which parses and validates the flags and then exits without AWS).
Validation against the Knative CRD schemas: crd_schema_test.py (CRDs in testdata/knative).
"""
import argparse
import glob
import os
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/
from checks import check, step_failed, summary

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def containers(doc):
    spec = doc.get("spec", {})
    template = spec.get("template", {})
    return template.get("spec", {}).get("containers", []) if isinstance(template, dict) else []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    args = ap.parse_args()
    driver = os.path.join(args.build_dir, "bin", "dispatch-events-aws")
    try:
        docs = []
        for path in sorted(glob.glob(os.path.join(ROOT, "deploy", "knative", "*.yaml"))):
            with open(path) as f:
                for doc in yaml.safe_load_all(f):
                    if doc:
                        docs.append((os.path.basename(path), doc))
        check("manifests parse", len(docs) >= 6, str(len(docs)))
        for name, doc in docs:
            check(f"{name} {doc.get('kind')}: apiVersion, kind, metadata.name",
                  doc.get("apiVersion") and doc.get("kind") and doc.get("metadata", {}).get("name"))
        accounts = {d["metadata"]["name"]: d for _, d in docs if d.get("kind") == "ServiceAccount"}
        for name, doc in docs:
            pod = doc.get("spec", {}).get("template", {}).get("spec", {})
            sa = pod.get("serviceAccountName") if isinstance(pod, dict) else None
            if sa:
                annotations = accounts.get(sa, {}).get("metadata", {}).get("annotations", {})
                check(f"{name}: ServiceAccount {sa} exists with the IRSA role",
                      annotations.get("eks.amazonaws.com/role-arn", "").startswith("arn:aws:iam::"))
            for c in containers(doc):
                image = c.get("image", "")
                check(f"{name}: image {image} names REGISTRY and a version",
                      image.startswith("REGISTRY/") and ":" in image and not image.endswith(":latest"))
                if "dispatch-events-aws" not in image:
                    continue
                flags = c.get("args", [])
                if doc.get("kind") == "ContainerSource":
                    check(f"{name}: stable --source-id, no --clean-up",
                          any(a.startswith("--source-id=") for a in flags) and
                          "--clean-up" not in flags, str(flags))
                r = subprocess.run([driver] + flags + ["--print-iam-policy"], capture_output=True,
                                   text=True, timeout=30)
                check(f"{name}: dispatch-events-aws accepts {' '.join(flags)}",
                      r.returncode == 0 and '"Statement"' in r.stdout, r.stderr.strip()[:300])
    except Exception as e:  # noqa: BLE001
        step_failed("manifests test", e)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
