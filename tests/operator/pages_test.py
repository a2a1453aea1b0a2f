#!/usr/bin/python3
"""localcloud's pages in a real browser (part of `make test`; skipped without chromium).

Runs the seed's walkthrough (one image posted), then loads, in headless Chromium, the landing
page (GET / as a browser asks for it) and the X timeline (GET /x/), keeps their screenshots in
this test's folder and checks their DOM: the landing page lists the services, the bucket, the
driver's queue and rule, recent requests and links the timeline; the timeline shows a thumbnail
(a downscaled JPEG no wider than 480 px, linking to the original), a readable time, and the
script that reloads it when a post arrives. Also: GET /_localcloud/health, and that a signed
GET / is still S3's ListBuckets.
"""
import argparse
import base64
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/
from checks import check, step_failed, summary  # noqa: E402  (puts scripts/ on the path)
import demo  # noqa: E402

SKIP = 77  # ctest SKIP_RETURN_CODE


class Dom(html.parser.HTMLParser):
    """Elements as (tag, attrs, text) and the text under each id'd section."""

    def __init__(self):
        super().__init__()
        self.elements = []
        self.stack = []
        self.sections = {}

    def handle_starttag(self, tag, attrs):
        el = [tag, dict(attrs), ""]
        self.elements.append(el)
        if tag not in ("img", "meta", "br", "link", "input"):
            self.stack.append(el)

    def handle_endtag(self, tag):
        while self.stack:
            el = self.stack.pop()
            if el[1].get("id"):
                self.sections[el[1]["id"]] = el[2]
            if el[0] == tag:
                break

    def handle_data(self, data):
        for el in self.stack:
            el[2] += data

    def find(self, tag, **attrs):
        return [e for e in self.elements if e[0] == tag and
                all(e[1].get(k.rstrip("_")) == v for k, v in attrs.items())]


def chromium_dom(chromium, url, shot, profile):
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--hide-scrollbars", "--user-data-dir=" + profile, "--window-size=1000,1200"]
    subprocess.run(common + ["--screenshot=" + shot, url], capture_output=True, timeout=90)
    r = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True, timeout=90)
    dom = Dom()
    dom.feed(r.stdout)
    return dom, r.stdout


def jpeg_width(data):
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return struct.unpack(">H", data[i + 7:i + 9])[0]
        i += 2 + length
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--out-dir", default=os.getcwd(), help="where the screenshots are kept")
    args = ap.parse_args()
    chromium = shutil.which("chromium")
    if not chromium:
        print("SKIP: chromium is not installed; `scripts/install-deps --browser` installs it")
        return SKIP
    os.makedirs(args.out_dir, exist_ok=True)
    stack = demo.Stack(args.build_dir, echo=False)
    try:
        stack.start_localcloud()
        stack.start_dispatch()
        stack.seed_steps()
        work = os.path.join(stack.dir, "work")
        os.makedirs(work)
        out = subprocess.run([os.path.join(stack.bin, "sample-images"), work, "--count", "1",
                              "--width", "1600", "--height", "1200"],
                             capture_output=True, text=True, check=True)
        image = out.stdout.split()[0]
        demo.upload_round(stack, [image])
        base = stack.localcloud_url
        profile = os.path.join(stack.dir, "chromium")

        with urllib.request.urlopen(base + "/_localcloud/health", timeout=10) as r:
            health = json.loads(r.read())
        check("health lists the services as running",
              all(health["services"].get(s) == "running" for s in ("s3", "sqs", "events")),
              str(health))
        buckets = json.loads(stack.aws(["s3api", "list-buckets", "--output", "json"]).stdout)
        check("a signed GET / is still ListBuckets",
              any(b["Name"] == demo.BUCKET for b in buckets["Buckets"]))

        shot = os.path.join(args.out_dir, "landing.png")
        dom, text = chromium_dom(chromium, base + "/", shot, profile)
        check("landing page screenshot", os.path.getsize(shot) > 1000 if os.path.exists(shot) else False)
        s = dom.sections
        check("landing: services", all(n in s.get("services", "") for n in ("s3", "sqs", "events")),
              s.get("services", "")[:200])
        check("landing: the bucket", demo.BUCKET in s.get("buckets", ""))
        check("landing: the driver's queue", "dispatch-" in s.get("queues", ""),
              s.get("queues", "")[:200])
        check("landing: the driver's rule", "aws.s3" in s.get("rules", ""), s.get("rules", "")[:200])
        check("landing: recent requests", "PUT /" + demo.BUCKET in s.get("recent", "") and
              "ReceiveMessage" in s.get("recent", ""), s.get("recent", "")[:300])
        check("landing: links the timeline", bool(dom.find("a", id="timeline", href="/x/")))

        shot = os.path.join(args.out_dir, "timeline.png")
        dom, text = chromium_dom(chromium, base + "/x/", shot, profile)
        check("timeline screenshot", os.path.exists(shot) and os.path.getsize(shot) > 1000)
        thumbs = dom.find("img", class_="thumb")
        check("timeline: one image", len(thumbs) == 1, str(len(thumbs)))
        if thumbs:
            src = thumbs[0][1].get("src", "")
            check("timeline: the image is an inline thumbnail",
                  src.startswith("data:image/jpeg;base64,"), src[:60])
            if src.startswith("data:image/jpeg;base64,"):
                data = base64.b64decode(src.split(",", 1)[1])
                width = jpeg_width(data)
                check("timeline: thumbnail at most 480 px wide and smaller than the original",
                      width is not None and width <= 480 and len(data) < os.path.getsize(image),
                      f"{width} px, {len(data)} bytes")
        links = dom.find("a", class_="original")
        check("timeline: the original a click away",
              links and links[0][1].get("href", "").startswith("/x/media/"))
        times = dom.find("time")
        check("timeline: readable time",
              times and re.fullmatch(r"\d{1,2} \w{3} \d{4}, \d\d:\d\d:\d\d UTC", times[0][2].strip())
              is not None, times[0][2] if times else "")
        check("timeline: reloads itself on a new post", "sandbox/posts" in text and
              "location.reload" in text and dom.find("body")[0][1].get("data-newest"))
    except Exception as e:  # noqa: BLE001
        step_failed("pages test", e)
    finally:
        stack.stop()
    print(f"screenshots in {args.out_dir}")
    return summary(f"logs kept in {stack.logs}", stack.cleanup_dir)


if __name__ == "__main__":
    sys.exit(main())
