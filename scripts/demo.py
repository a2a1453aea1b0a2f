#!/usr/bin/python3
"""make run: the seed's walkthrough end to end on this machine.

Builds what changed (quietly: one progress line, and only when something compiles), starts
localcloud (AWS + the X sandbox) and `dispatch server` on free ports, runs the seed's
`dispatch` commands (echoing each), uploads generated sample images with the aws CLI, then the
formats people upload (an ImageMagick 12 MP JPEG, a HEIC, a WebP, an animated GIF and an
animated WebP, made by the real encoders), waits for each post, checks that its media shows
the logo, and prints a summary. With a terminal it then keeps the stack (and the timeline
page) up and shows each new run until Ctrl-C; without one it stops the stack and exits: 0 when
every sample was posted. The temporary folder is removed at the end unless --keep.

The Stack class is also used by the end-to-end tests (tests/e2e, tests/operator).
"""
import argparse
import datetime
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUCKET = "dispatch-events-aws-twitter-example"
FOLDER = "images/"
ACCESS_KEY = "test"
SECRET_KEY = "test"


class StepError(Exception):
    """A step of the walkthrough failed; the message says which and why."""


def say(msg=""):
    print(msg, flush=True)


# --- building -------------------------------------------------------------------------------
def quiet_build(build_dir, generator, jobs):
    """Installs missing packages, configures and builds, printing only what matters.

    Nothing is printed when the tree is up to date; while something compiles, one progress line
    (rewritten in place on a terminal); on failure, the build's own output. Returns True on
    success.
    """
    deps = subprocess.run([os.path.join(ROOT, "scripts", "install-deps")], capture_output=True,
                          text=True)
    if deps.returncode != 0:
        say(deps.stdout + deps.stderr)
        say("make run: installing the build dependencies failed (output above)")
        return False
    if "all packages present" not in deps.stdout:
        say(deps.stdout.strip().splitlines()[0] if deps.stdout.strip() else "installed packages")
    cache = os.path.join(build_dir, "CMakeCache.txt")
    if os.path.exists(cache):
        with open(cache, errors="replace") as f:
            if f"CMAKE_GENERATOR:INTERNAL={generator}\n" not in f.read():
                shutil.rmtree(build_dir, ignore_errors=True)
    if not os.path.exists(cache):
        r = subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-G", generator,
                            "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], capture_output=True, text=True)
        if r.returncode != 0:
            say(r.stdout + r.stderr)
            say("make run: cmake failed (output above)")
            return False
    tty = sys.stdout.isatty()
    env = dict(os.environ, NINJA_STATUS="[%f/%t] ", CLICOLOR_FORCE="0")
    p = subprocess.Popen(["cmake", "--build", build_dir, "-j", str(jobs)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=env)
    output = []
    progress = re.compile(r"^\[\s*(\d+)/(\d+)\]|^\[\s*(\d+)%\]")
    shown = False
    for line in p.stdout:
        output.append(line)
        m = progress.match(line)
        if not m or "Linking" not in line and "Building" not in line:
            continue
        if m.group(1):
            text = f"building: {m.group(1)}/{m.group(2)}"
        else:
            text = f"building: {m.group(3)}%"
        if tty:
            print("\r" + text.ljust(40), end="", flush=True)
        elif not shown:
            say("building …")
        shown = True
    rc = p.wait()
    if tty and shown:
        print("\r" + " " * 40 + "\r", end="", flush=True)
    if rc != 0:
        say("".join(output[-80:]))
        say("make run: the build failed (output above)")
        return False
    if shown:
        say("build: done")
    return True


# --- the stack ------------------------------------------------------------------------------
class Stack:
    """localcloud + dispatch server + the seed's dispatch objects, in one data directory."""

    def __init__(self, build_dir, data_dir=None, echo=True, driver_sets=()):
        self.bin = os.path.join(os.path.abspath(build_dir), "bin")
        self.own_dir = data_dir is None
        self.dir = data_dir or tempfile.mkdtemp(prefix="dispatch-demo-")
        self.logs = os.path.join(self.dir, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.echo = echo
        self.driver_sets = list(driver_sets)
        self.x_secret = "test"  # the X sandbox's consumer and token secrets
        self.procs = {}
        self.localcloud_url = None
        self.dispatch_url = None
        self.env = dict(os.environ)
        self.env["PATH"] = self.bin + os.pathsep + self.env.get("PATH", "")
        # The aws CLI, as a user would run it against localcloud.
        self.aws_env = dict(self.env)
        self.aws_env.update({"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                             "AWS_DEFAULT_REGION": "us-west-2", "AWS_PAGER": ""})

    # --- processes -------------------------------------------------------------------------
    def _start(self, name, argv, timeout=20):
        with open(os.path.join(self.logs, name + ".log"), "ab") as log:
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log,
                                 stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            text = line.decode(errors="replace").strip()
            if "listening on " in text:
                self.procs[name] = p
                return text.split("listening on ", 1)[1].strip()
        p.kill()
        p.wait()
        raise StepError(f"{name} did not start; see {os.path.join(self.logs, name + '.log')}")

    def start_localcloud(self):
        self.localcloud_url = self._start("localcloud", [
            os.path.join(self.bin, "localcloud"), "--port", "0",
            "--data-dir", os.path.join(self.dir, "localcloud"),
            "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY,
            "--x-consumer-secret", self.x_secret, "--x-access-token-secret", self.x_secret])
        self.aws_env["AWS_ENDPOINT_URL"] = self.localcloud_url
        return self.localcloud_url

    def start_dispatch(self):
        data = os.path.join(self.dir, "dispatch")
        self.dispatch_url = self._start("dispatch-server", [
            os.path.join(self.bin, "dispatch"), "server", "--data-dir", data,
            "--listen", "127.0.0.1:0"])
        self.env["DISPATCH_SERVER"] = self.dispatch_url
        with open(os.path.join(data, "token")) as f:
            self.env["DISPATCH_TOKEN"] = f.read().strip()
        return self.dispatch_url

    def kill_dispatch(self):
        """kill -9 the server (restart-safety tests)."""
        p = self.procs.pop("dispatch-server")
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()

    def restart_dispatch(self):
        """Starts the server again on the same data dir; the CLI follows the new port."""
        return self.start_dispatch()

    def driver_names(self):
        return [d.get("name") for d in self.dispatch_json(["get", "eventdrivers"])]

    def delete_drivers(self):
        """Deletes every event driver and waits until each has cleaned up what it created."""
        for name in self.driver_names():
            self.dispatch(["delete", "eventdriver", name, "--wait"], check=False, quiet=True)

    def stop(self):
        """Deletes the event drivers (each cleans up what it created, interrupting its long
        poll), then stops every process: SIGTERM to all at once, SIGKILL after 30 s."""
        if "dispatch-server" in self.procs:
            try:
                self.delete_drivers()
            except Exception:
                pass
        procs = [self.procs.pop(n) for n in ("dispatch-server", "localcloud") if n in self.procs]
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def cleanup_dir(self):
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- commands --------------------------------------------------------------------------
    def dispatch(self, args, check=True, quiet=False, timeout=120):
        if self.echo and not quiet:
            say("$ dispatch " + " ".join(_quote(a) for a in args))
        r = subprocess.run([os.path.join(self.bin, "dispatch")] + args, env=self.env,
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, cwd=self.dir)
        if self.echo and not quiet and r.stdout.strip():
            say("  " + r.stdout.strip().replace("\n", "\n  "))
        if check and r.returncode != 0:
            raise StepError(f"`dispatch {' '.join(args)}` failed ({r.returncode}): "
                            f"{r.stderr.strip() or r.stdout.strip()}")
        return r

    def dispatch_json(self, args):
        return json.loads(self.dispatch(args + ["--json"], quiet=True).stdout)

    def aws(self, args, check=True, timeout=120):
        # Debian's awscli 2.9 predates AWS_ENDPOINT_URL: name the endpoint explicitly.
        r = subprocess.run(["aws", "--endpoint-url", self.localcloud_url] + args,
                           env=self.aws_env, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise StepError(f"`aws {' '.join(args)}` failed: {r.stderr.strip()}")
        return r

    # --- the seed's steps ------------------------------------------------------------------
    def write_secrets(self):
        aws_secret = os.path.join(self.dir, "aws-secret.json")
        with open(aws_secret, "w") as f:
            json.dump({"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY,
                       "region": "us-west-2", "endpoint_url": self.localcloud_url}, f, indent=2)
        twitter_secret = os.path.join(self.dir, "twitter-secret.json")
        with open(twitter_secret, "w") as f:
            json.dump({"appKey": "test", "appSecret": self.x_secret, "oathToken": "test",
                       "oathTokenSecret": self.x_secret, "apiBase": self.localcloud_url + "/x"},
                      f, indent=2)
        return aws_secret, twitter_secret

    def seed_steps(self):
        aws_secret, twitter_secret = self.write_secrets()
        self.dispatch(["create", "secret", "aws", "aws-secret.json"])
        self.dispatch(["create", "eventdrivertype", "aws", "dispatch-events-aws:latest"])
        # key-prefix: the driver's rule passes only uploads under images/, so what the function
        # writes elsewhere in the bucket (its posted records) never comes back as an event.
        sets = []
        for s in ["clean-up", f"bucket-name={BUCKET}", f"key-prefix={FOLDER}"] + self.driver_sets:
            sets += ["--set", s]
        self.dispatch(["create", "eventdriver", "aws", "--secret", "aws"] + sets + ["--wait"])
        self.dispatch(["create", "secret", "twitter", "twitter-secret.json"])
        self.dispatch(["create", "base-image", "native-base", "native:latest", "--language",
                       "native", "--wait"])
        self.dispatch(["create", "image", "twitter-image", "native-base", "--wait"])
        # --link: the server runs build/bin/twitter in place instead of storing a copy.
        self.dispatch(["create", "function", "twitter", "--image", "twitter-image",
                       os.path.join(self.bin, "twitter"), "--link", "--secret", "aws",
                       "--secret", "twitter", "--wait"])
        self.dispatch(["create", "subscription", "twitter", "--event-type", "aws.s3",
                       "--source-type", "aws"])

    # --- observing the X sandbox -----------------------------------------------------------
    def posts(self):
        with urllib.request.urlopen(self.localcloud_url + "/x/2/sandbox/posts", timeout=10) as r:
            body = json.loads(r.read())
        return body.get("data", body) if isinstance(body, dict) else body

    def wait_for_post(self, name, since_ids, timeout=60):
        """Waits for a new post whose text names `name`; returns (post, seconds waited)."""
        start = time.time()
        while time.time() - start < timeout:
            for p in self.posts():
                if p.get("id") not in since_ids and name in p.get("text", ""):
                    return p, time.time() - start
            time.sleep(0.02)
        raise StepError(f"no post for {name} within {timeout} s; see "
                        f"`dispatch get runs twitter` and the logs in {self.logs}")

    def upload(self, path, key):
        self.aws(["s3", "cp", path, f"s3://{BUCKET}/{key}", "--only-show-errors"])


# --- the formats people upload -------------------------------------------------------------
# (object name, how it is made: bash commands run in the formats folder, the file the posted
# picture is compared with). The encoders are the real ones (scripts/install-deps installs them).
FORMAT_SAMPLES = [
    ("photo-12mp.jpg", "convert -seed 7 -size 500x375 plasma:fractal -filter Triangle "
     "-resize '4000x3000!' -quality 90 photo-12mp.jpg", "photo-12mp.jpg"),
    ("phone.heic", "convert -seed 3 -size 640x480 plasma:fractal ref/phone.png && "
     "heif-enc -q 60 -p preset=ultrafast ref/phone.png -o phone.heic", "ref/phone.png"),
    ("photo.webp", "convert -seed 5 -size 640x480 plasma:fractal ref/photo.png && "
     "cwebp -quiet -q 80 ref/photo.png -o photo.webp", "photo.webp"),
    ("animation.gif", "convert -delay 25 -size 320x240 gradient:'#C83C3C'-'#3C3CC8' "
     "gradient:'#3CC83C'-'#C83C3C' gradient:'#3C3CC8'-'#3CC83C' -loop 0 animation.gif",
     "animation.gif"),
    ("animation.webp", "convert animation.gif ref/frame-%d.png && img2webp -loop 0 -lossy -q 75 "
     "-d 250 ref/frame-0.png ref/frame-1.png ref/frame-2.png -o animation.webp",
     "animation.webp"),
]


def start_format_samples(folder):
    """Starts making FORMAT_SAMPLES in `folder` in the background (three jobs at once; the
    animated WebP is made from the GIF's frames); returns the process for finish_format_samples."""
    os.makedirs(os.path.join(folder, "ref"), exist_ok=True)
    jobs = [cmd for _, cmd, _ in FORMAT_SAMPLES]
    script = (f"({jobs[0]}) & a=$!; ({jobs[1]} && {jobs[2]}) & b=$!; "
              f"({jobs[3]} && {jobs[4]}) & c=$!; s=0; for p in $a $b $c; do wait $p || s=1; done; "
              "exit $s")
    # Niced: the stack's start and the first uploads keep the CPU they would have without it.
    return subprocess.Popen(["nice", "-n", "10", "bash", "-c", script], cwd=folder,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                            start_new_session=True)


def finish_format_samples(proc, folder, timeout=180):
    """Waits for start_format_samples; returns [(upload path, reference path)]."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise StepError(f"making the format samples took over {timeout} s")
    if proc.returncode != 0:
        raise StepError("making the format samples failed (scripts/install-deps installs "
                        f"ImageMagick, heif-enc, cwebp and img2webp): {out.strip()[-500:]}")
    return [(os.path.join(folder, name), os.path.join(folder, ref))
            for name, _, ref in FORMAT_SAMPLES]


def posted_as(stack, post, reference):
    """Fetches a post's media and checks it with Pillow against the uploaded picture
    (`reference`): the media type matches the bytes, each frame has the reference's aspect, and
    the logo is in the south-east corner of every frame (the corner differs from the reference,
    the opposite corner does not). Returns a short description; StepError when a check fails."""
    from PIL import Image  # python3-pil (scripts/install-deps)
    url = post.get("image_url")
    if not url:
        raise StepError(f"post {post.get('id')} has no media")
    with urllib.request.urlopen(url, timeout=10) as r:
        media_type, data = r.headers.get("Content-Type", ""), r.read()
    posted, ref = Image.open(io.BytesIO(data)), Image.open(reference)
    fmt = (posted.format or "?").lower()
    if media_type != f"image/{fmt}":
        raise StepError(f"post {post['id']}: media type {media_type} for a {fmt} file")
    frames = getattr(posted, "n_frames", 1)
    w, h = posted.size
    if abs(w * ref.size[1] - h * ref.size[0]) > max(w, h):
        raise StepError(f"post {post['id']}: {w}x{h}, the upload is {ref.size[0]}x{ref.size[1]}")
    for i in range(frames):
        posted.seek(i)
        ref.seek(min(i, getattr(ref, "n_frames", 1) - 1))
        corner, opposite = _logo_difference(posted, ref)
        if corner < 25 or corner < 3 * opposite + 5:
            raise StepError(f"post {post['id']}: no logo in frame {i + 1} of {frames} "
                            f"(south-east differs by {corner:.0f}, north-west by {opposite:.0f})")
    what = f"{fmt} {w}x{h}" + (f", {frames} frames" if frames > 1 else "")
    return what + " +logo"


def _logo_difference(posted, ref):
    """Mean absolute difference (0-255) between the two pictures, compared at 400 px wide, in
    the middle of where the logo goes (south-east: 15 % of the width, 16 px from the edges) and
    in the same square at the north-west."""
    w, h = posted.size
    size = (400, max(1, round(400 * h / w)))
    a = _small(posted, size)
    b = _small(ref, size)
    k = size[0] / w
    side = 0.15 * w * k
    x1, y1 = size[0] - 16 * k, size[1] - 16 * k
    inner = (round(x1 - 0.75 * side), round(y1 - 0.75 * side), round(x1 - 0.25 * side),
             round(y1 - 0.25 * side))
    nw = (inner[0] - round(x1 - side) + round(16 * k), inner[1] - round(y1 - side) + round(16 * k))
    opposite = (nw[0], nw[1], nw[0] + inner[2] - inner[0], nw[1] + inner[3] - inner[1])
    return _mean_diff(a, b, inner), _mean_diff(a, b, opposite)


def _small(im, size):
    if im.format == "JPEG":
        im.draft("RGB", size)  # DCT scaling: a 12 MP JPEG decoded at 1/8 size
    return im.convert("RGB").resize(size)


def _mean_diff(a, b, box):
    from PIL import ImageChops, ImageStat
    return sum(ImageStat.Stat(ImageChops.difference(a.crop(box), b.crop(box))).mean) / 3


def _quote(a):
    return a if a and all(c.isalnum() or c in "-_=./:@" for c in a) else "'" + a + "'"


def percentile(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def upload_round(stack, images, prefix=FOLDER):
    """Uploads each image and waits for its post; returns rows (key, post id, latency ms)."""
    rows = []
    for path in images:
        name = os.path.basename(path)
        key = prefix + name
        seen = {p.get("id") for p in stack.posts()}
        t0 = time.time()
        stack.upload(path, key)
        post, _ = stack.wait_for_post(name, seen)
        rows.append((key, post["id"], (time.time() - t0) * 1000))
    return rows


def upload_batch(stack, images, prefix=FOLDER, on_post=None):
    """Uploads the images with one `aws s3 cp` (concurrent uploads) and waits for every post,
    calling on_post(name, post) as each appears (so work on one overlaps the others' runs);
    returns rows (key, post, latency ms from the start of the upload to the post's creation)."""
    folder = os.path.dirname(images[0])
    names = [os.path.basename(p) for p in images]
    seen = {p.get("id") for p in stack.posts()}
    argv = ["aws", "--endpoint-url", stack.localcloud_url, "s3", "cp", folder,
            f"s3://{BUCKET}/{prefix}", "--recursive", "--exclude", "*", "--only-show-errors"]
    for n in names:
        argv += ["--include", n]
    t0 = time.time()
    cp = subprocess.Popen(argv, env=stack.aws_env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    found = {}
    while len(found) < len(names) and time.time() - t0 < 120:
        for p in stack.posts():
            for n in names:
                if n not in found and p.get("id") not in seen and n in p.get("text", ""):
                    found[n] = (p, (_created(p) or time.time()) * 1000 - t0 * 1000)
                    if on_post:
                        on_post(n, p)
        if cp.poll() not in (None, 0):
            raise StepError(f"`aws s3 cp` failed: {cp.stderr.read().strip()}")
        time.sleep(0.02)
    _, err = cp.communicate()
    if cp.returncode != 0:
        raise StepError(f"`aws s3 cp` failed: {err.strip()}")
    missing = [n for n in names if n not in found]
    if missing:
        raise StepError(f"no post for {', '.join(missing)} within 120 s; see "
                        f"`dispatch get runs twitter` and the logs in {stack.logs}")
    return [(prefix + n, found[n][0], found[n][1]) for n in names]


def _created(post):
    """The post's created_at (the sandbox's clock, this machine's) in seconds, or None."""
    try:
        return datetime.datetime.strptime(post.get("created_at", ""), "%Y-%m-%dT%H:%M:%S.%fZ") \
            .replace(tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None


def print_table(rows, headers):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    say("  ".join(str(h).upper().ljust(w) for h, w in zip(headers, widths)).rstrip())
    for r in rows:
        say("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


def run_line(run):
    """One line for a finished run: time, object key, outcome."""
    started = (run.get("startedTime") or run.get("createdTime") or "")[11:19]
    ms = run.get("durationMs")
    took = f" ({ms} ms)" if ms is not None else ""
    return f"{started}  {run.get('subject') or '-'}  {run.get('outcome') or run.get('status')}{took}"


def live(stack):
    say("")
    say("Live (Ctrl-C stops everything). Upload more from another terminal:")
    say(f"  AWS_ACCESS_KEY_ID={ACCESS_KEY} AWS_SECRET_ACCESS_KEY={SECRET_KEY} "
        f"aws --endpoint-url {stack.localcloud_url} s3 cp photo.jpg s3://{BUCKET}/{FOLDER}")
    seen = {r.get("id") for r in stack.dispatch_json(["get", "runs", "twitter"])}
    while True:
        time.sleep(0.5)
        try:
            runs = stack.dispatch_json(["get", "runs", "twitter", "--last", "20"])
        except (StepError, ValueError) as e:
            say(f"(runs unavailable: {e})")
            continue
        for r in reversed(runs):
            if r.get("id") in seen or str(r.get("status", "")).lower() in ("running", "queued"):
                continue
            seen.add(r.get("id"))
            say(run_line(r))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--build", action="store_true",
                    help="install missing packages and build first (quietly)")
    ap.add_argument("--generator", default="Ninja", help="CMake generator for --build")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="build jobs")
    ap.add_argument("--data-dir", help="keep state here instead of a temporary directory")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory (logs, data) at the end")
    ap.add_argument("--images", type=int, default=3, help="number of sample images")
    ap.add_argument("--no-interactive", action="store_true",
                    help="stop after the first round even on a terminal")
    args = ap.parse_args()
    args.build_dir = os.path.abspath(args.build_dir)
    if args.build and not quiet_build(args.build_dir, args.generator, args.jobs):
        return 1

    # SIGTERM (a CI runner stopping us) ends the walkthrough as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    stack = Stack(args.build_dir, args.data_dir)
    keep = args.keep or args.data_dir is not None
    interactive = sys.stdin.isatty() and sys.stdout.isatty() and not args.no_interactive
    step = "starting localcloud"
    rc = 0
    # The format samples are made while the stack starts.
    format_dir = os.path.join(stack.dir, "formats")
    format_proc = start_format_samples(format_dir)
    try:
        say(f"localcloud:      {stack.start_localcloud()}  (S3, SQS, EventBridge, STS, X sandbox)")
        step = "starting dispatch server"
        say(f"dispatch server: {stack.start_dispatch()}  (data in {stack.dir})")
        step = "the seed's dispatch commands"
        stack.seed_steps()
        step = "generating sample images"
        samples = os.path.join(stack.dir, "samples")
        os.makedirs(samples, exist_ok=True)
        out = subprocess.run([os.path.join(stack.bin, "sample-images"), samples, "--count",
                              str(args.images)], capture_output=True, text=True, check=True)
        images = out.stdout.split()
        step = "uploading and waiting for posts"
        say(f"\nuploading {len(images)} images to s3://{BUCKET}/{FOLDER} …")
        rows = []
        for key, post_id, ms in upload_round(stack, images):
            post = next(p for p in stack.posts() if p.get("id") == post_id)
            rows.append((key, post, ms, os.path.join(samples, os.path.basename(key))))
        step = "uploading the formats people upload"
        formats = finish_format_samples(format_proc, format_dir)
        say(f"uploading {', '.join(os.path.basename(p) for p, _ in formats)} …")
        refs = dict((os.path.basename(p), r) for p, r in formats)
        checked = {}  # each post's media is checked as soon as it appears

        def check_post(name, post):
            checked[post["id"]] = posted_as(stack, post, refs[name])
        for key, post, ms in upload_batch(stack, [p for p, _ in formats], on_post=check_post):
            rows.append((key, post, ms, refs[os.path.basename(key)]))
        step = "checking the posts"
        table = [(k, p["id"], f"{ms:.0f} ms", checked.get(p["id"]) or posted_as(stack, p, ref))
                 for k, p, ms, ref in rows]
        print_table(table, ["object key", "post id", "upload to post", "posted as"])
        lat = [ms for _, _, ms, _ in rows]
        say(f"p50 {percentile(lat, 50):.0f} ms, max {max(lat):.0f} ms over {len(lat)} uploads; "
            "each posted with the logo")
        say(f"\nTimeline of the posts: {stack.localcloud_url}/x/")
        say(f"localcloud overview:   {stack.localcloud_url}/")
        if interactive:
            live(stack)
        else:
            say("No terminal: the stack stops now, so the links above stop working. "
                "Run `make run` in a terminal to keep it up until Ctrl-C.")
    except KeyboardInterrupt:
        say("\nstopping …")
    except (StepError, subprocess.CalledProcessError, OSError, urllib.error.URLError) as e:
        say(f"\nmake run failed while {step}: {e}")
        say(f"logs: {stack.logs}")
        keep = True
        rc = 1
    finally:
        # A second Ctrl-C must not leave processes behind: ignore it while stopping.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if format_proc.poll() is None:
            os.killpg(format_proc.pid, signal.SIGKILL)
            format_proc.communicate()
        t0 = time.time()
        stack.stop()
        if keep:
            say(f"stopped in {time.time() - t0:.1f} s; kept {stack.dir}")
        else:
            stack.cleanup_dir()
            say(f"stopped in {time.time() - t0:.1f} s; removed {stack.dir}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
