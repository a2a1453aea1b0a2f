#!/usr/bin/python3
"""The dispatch CLI as a user meets it, through the real binaries (part of `make test`).

Starts `dispatch server` on a free port with a temporary data directory and checks: exit codes
(0 ok, 1 error, 2 usage, 3 not found), "did you mean" for unknown commands and kinds, errors
that say what to do (a wrong token names where it was read from), -o table|json|yaml and the
--json alias, `update` of secrets, functions and subscriptions, `get runs FUNCTION [RUN_ID]`
with --last and the subject/outcome columns, `logs`, `version`/--version on every binary,
--log-format/--log-level on every binary, `completion bash|zsh`, and refused deletes of what is
in use (naming the users) unless --force.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/
from checks import check, step_failed, summary



class Cli:
    def __init__(self, bin_dir, work):
        self.bin = bin_dir
        self.work = work
        self.env = dict(os.environ)
        self.server = None

    def start(self):
        data = os.path.join(self.work, "data")
        self.server = subprocess.Popen(
            [os.path.join(self.bin, "dispatch"), "server", "--data-dir", data, "--listen",
             "127.0.0.1:0", "--log-format", "json"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.work, "server.log"), "wb"),
            stdin=subprocess.DEVNULL, start_new_session=True)
        for line in self.server.stdout:
            text = line.decode()
            if "listening on " in text:
                self.env["DISPATCH_SERVER"] = text.split("listening on ", 1)[1].strip()
                break
        with open(os.path.join(data, "token")) as f:
            self.env["DISPATCH_TOKEN"] = f.read().strip()

    def stop(self):
        if self.server:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=60)

    def run(self, *args, env=None):
        return subprocess.run([os.path.join(self.bin, "dispatch")] + list(args),
                              env=env or self.env, capture_output=True, text=True, timeout=120,
                              cwd=self.work, stdin=subprocess.DEVNULL)

    def json(self, *args):
        r = self.run(*args, "-o", "json")
        if r.returncode != 0:
            raise AssertionError(f"dispatch {' '.join(args)}: {r.stderr}")
        return json.loads(r.stdout)


def write(path, content):
    with open(path, "w") as f:
        f.write(content)
    return path


def binaries_checks(bin_dir, version):
    for b in ("dispatch", "dispatch-events-aws", "localcloud", "twitter", "watermark"):
        r = subprocess.run([os.path.join(bin_dir, b), "--version"], capture_output=True,
                           text=True, timeout=30)
        check(f"{b} --version", r.returncode == 0 and version in r.stdout, r.stdout.strip())
    helps = {"dispatch server": ["dispatch", "server", "--help"],
             "dispatch-events-aws": ["dispatch-events-aws", "--help"],
             "localcloud": ["localcloud", "--help"], "twitter": ["twitter", "--help"],
             "watermark": ["watermark", "--help"]}
    for name, argv in helps.items():
        r = subprocess.run([os.path.join(bin_dir, argv[0])] + argv[1:], capture_output=True,
                           text=True, timeout=30)
        check(f"{name} has --log-format and --log-level",
              "--log-format" in r.stdout and "--log-level" in r.stdout)
    # One range per shared option: watermark and twitter refuse the same --scale.
    for b in ("watermark", "twitter"):
        extra = ["in.jpg", "out.jpg"] if b == "watermark" else []
        r = subprocess.run([os.path.join(bin_dir, b), "--scale", "0.001"] + extra,
                           capture_output=True, text=True, timeout=30)
        check(f"{b} --scale 0.001 refused with the shared range", r.returncode != 0 and
              "0.01" in (r.stderr + r.stdout), (r.stderr + r.stdout).strip()[:200])
    # The function's watermark options come from its environment too.
    try:
        r = subprocess.run([os.path.join(bin_dir, "twitter"), "--port", "0"],
                           capture_output=True, text=True, timeout=10,
                           env=dict(os.environ, TWITTER_SCALE="2"))
        check("twitter checks TWITTER_SCALE against the same range", r.returncode != 0 and
              "scale" in r.stderr.lower(), r.stderr.strip()[:200])
    except subprocess.TimeoutExpired:
        check("twitter checks TWITTER_SCALE against the same range", False, "it started")


def usage_checks(cli):
    r = cli.run("creat", "function", "f")
    check("unknown command: exit 2 with did-you-mean", r.returncode == 2 and
          'did you mean "create"' in r.stderr, r.stderr.strip())
    r = cli.run("create", "functon", "f", "x")
    check("unknown create kind: exit 2 with did-you-mean", r.returncode == 2 and
          'did you mean "function"' in r.stderr, r.stderr.strip())
    r = cli.run("get", "functons")
    check("unknown get kind: exit 2, did-you-mean and the valid kinds", r.returncode == 2 and
          'did you mean "functions"' in r.stderr and "subscription" in r.stderr,
          r.stderr.strip())
    r = cli.run("get", "secrets", "--no-such-flag")
    check("unknown flag: exit 2", r.returncode == 2, r.stderr.strip())
    r = cli.run("get", "function", "nosuch")
    check("get function nosuch: exit 3", r.returncode == 3, r.stderr.strip())
    r = cli.run("get", "runs", "nosuch")
    check("get runs nosuch: exit 3 (not an empty table)", r.returncode == 3 and
          "nosuch" in r.stderr, r.stderr.strip())
    bad = dict(cli.env, DISPATCH_TOKEN="wrong")
    r = cli.run("get", "secrets", env=bad)
    check("wrong token: exit 1 naming where the token was read from", r.returncode == 1 and
          "DISPATCH_TOKEN" in r.stderr and "token" in r.stderr, r.stderr.strip())
    dead = dict(cli.env, DISPATCH_SERVER="http://127.0.0.1:9")
    r = cli.run("get", "secrets", env=dead)
    check("unreachable server: says to start it or set --server", r.returncode == 1 and
          "dispatch server" in r.stderr and "--server" in r.stderr, r.stderr.strip())
    r = cli.run("--help")
    check("--help documents the exit codes", r.returncode == 0 and "3 not found" in r.stdout)


def output_checks(cli):
    table = cli.run("get", "secrets")
    as_json = cli.run("get", "secrets", "-o", "json")
    alias = cli.run("get", "secrets", "--json")
    as_yaml = cli.run("get", "secrets", "-o", "yaml")
    check("-o table", table.returncode == 0 and "NAME" in table.stdout and "KEYS" in table.stdout)
    check("--json is -o json", alias.stdout == as_json.stdout and as_json.returncode == 0)
    check("-o yaml reads back as the same data",
          yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout), as_yaml.stdout[:300])
    r = cli.run("version", "-o", "yaml")
    v = yaml.safe_load(r.stdout)
    check("version -o yaml names client and server", r.returncode == 0 and
          v.get("client") and v.get("server") == v.get("client"), r.stdout)
    r = cli.run("completion", "bash")
    syntax = subprocess.run(["bash", "-n"], input=r.stdout, capture_output=True, text=True)
    check("completion bash is valid bash", r.returncode == 0 and syntax.returncode == 0 and
          "complete -F _dispatch dispatch" in r.stdout, syntax.stderr)
    probe = subprocess.run(
        ["bash", "-c", r.stdout + '\nCOMP_WORDS=(dispatch get fun); COMP_CWORD=2; _dispatch; '
         'echo "${COMPREPLY[@]}"'], capture_output=True, text=True)
    check("completion bash completes kinds", "functions" in probe.stdout, probe.stdout.strip())
    r = cli.run("completion", "zsh")
    check("completion zsh", r.returncode == 0 and "bashcompinit" in r.stdout)


def follow_checks(cli):
    """get runs --follow prints each run as it finishes, until stopped."""
    p = subprocess.Popen([os.path.join(cli.bin, "dispatch"), "get", "runs", "hello", "--follow",
                          "-o", "json"], env=cli.env, stdout=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    try:
        first = [json.loads(p.stdout.readline()) for _ in range(2)]  # the two runs so far
        check("get runs --follow prints the finished runs", all("outcome" in r for r in first))
        cli.json("exec", "hello", "--input", json.dumps({"subject": "followed"}), "--wait")
        nxt = json.loads(p.stdout.readline())
        check("get runs --follow prints a new run as it finishes",
              nxt.get("subject") == "followed", str(nxt.get("subject")))
    finally:
        p.terminate()
        p.wait(timeout=10)


def lifecycle_checks(cli):
    w = cli.work
    write(os.path.join(w, "s1.json"), '{"k": "v1"}')
    write(os.path.join(w, "s2.json"), '{"k": "v2"}')
    write(os.path.join(w, "hello.py"),
          "import os\n\ndef handle(context, payload):\n"
          "    return {'status': 'skipped', 'reason': 'greeting ' + os.environ.get('GREETING', '-'),"
          " 'echo': payload}\n")
    for args in (["create", "secret", "s1", "s1.json"],
                 ["create", "base-image", "py", "python3:latest", "--language", "python3",
                  "--wait"],
                 ["create", "image", "pyimg", "py", "--wait"],
                 ["create", "function", "hello", "hello.py", "--image", "pyimg", "--secret", "s1",
                  "--env", "GREETING=first", "--wait"],
                 ["create", "subscription", "hello", "--name", "sub1", "--event-type", "t.one"]):
        r = cli.run(*args)
        if not check("dispatch " + " ".join(args[:3]), r.returncode == 0, r.stderr.strip()):
            return

    # Safe deletes: refused while in use, naming the users.
    for kind, name, user in (("secret", "s1", "function hello"), ("image", "pyimg", "function hello"),
                             ("base-image", "py", "image pyimg"),
                             ("function", "hello", "subscription sub1")):
        r = cli.run("delete", kind, name)
        check(f"delete {kind} in use refused, naming {user}", r.returncode == 1 and
              user in r.stderr and "--force" in r.stderr, r.stderr.strip())
        check(f"{kind} {name} still there", cli.run("get", kind, name).returncode == 0)

    # Updates.
    r = cli.run("update", "secret", "s1", "s2.json")
    shown = cli.json("get", "secret", "s1", "--show-values")
    check("update secret", r.returncode == 0 and shown.get("secrets") == {"k": "v2"}, str(shown))
    r = cli.run("update", "function", "hello", "--env", "GREETING=second", "--wait")
    fn = cli.json("get", "function", "hello")
    check("update function --env", r.returncode == 0 and fn.get("env") == {"GREETING": "second"},
          r.stderr + str(fn.get("env")))
    r = cli.run("update", "subscription", "sub1", "--event-type", "t.two")
    sub = cli.json("get", "subscription", "sub1")
    check("update subscription", r.returncode == 0 and sub.get("eventType") == "t.two",
          r.stderr + str(sub))
    r = cli.run("update", "subscription", "sub1")
    check("update with nothing to change: exit 2", r.returncode == 2, r.stderr.strip())

    # Runs: subject and outcome, RUN_ID, --last.
    event = {"detail": {"object": {"key": "images/a b.jpg"}}}
    run = cli.json("exec", "hello", "--input", json.dumps(event), "--wait")
    check("exec runs with the function's environment",
          run.get("outcome") == "skipped (greeting second)", str(run.get("outcome")))
    cli.json("exec", "hello", "--input", "{}", "--wait")
    one = cli.json("get", "runs", "hello", run["id"])
    check("get runs FUNCTION RUN_ID", one.get("id") == run["id"] and
          one.get("subject") == "images/a b.jpg", str(one.get("subject")))
    table = cli.run("get", "runs", "hello")
    check("get runs table has SUBJECT and OUTCOME", "SUBJECT" in table.stdout and
          "OUTCOME" in table.stdout and "images/a b.jpg" in table.stdout and
          "greeting second" in table.stdout, table.stdout)
    last = cli.json("get", "runs", "hello", "--last", "1")
    check("get runs --last 1", len(last) == 1 and last[0]["id"] != run["id"], str(len(last)))
    r = cli.run("get", "runs", "hello", "0190c0de-0000-7000-8000-000000000000")
    check("get runs FUNCTION unknown-id: exit 3", r.returncode == 3, r.stderr.strip())
    r = cli.run("logs", "function", "hello")
    check("logs function", r.returncode == 0)
    follow_checks(cli)
    r = cli.run("logs", "secret", "s1")
    check("logs of a kind without logs: exit 2", r.returncode == 2, r.stderr.strip())

    # --force: deletes anyway, and says what breaks / what went with it.
    r = cli.run("delete", "function", "hello", "--force")
    check("delete function --force deletes its subscriptions, saying so", r.returncode == 0 and
          "Deleted subscription sub1" in r.stderr, r.stderr.strip())
    check("the subscription is gone", cli.run("get", "subscription", "sub1").returncode == 3)
    r = cli.run("logs", "function", "hello")
    check("a deleted function's logs are still there", r.returncode == 0, r.stderr.strip())
    r = cli.run("logs", "function", "never-existed")
    check("logs of what never existed: exit 3", r.returncode == 3, r.stderr.strip())
    r = cli.run("delete", "image", "pyimg")
    check("delete image no longer in use", r.returncode == 0, r.stderr.strip())
    r = cli.run("delete", "secret", "s1")
    check("delete secret no longer in use", r.returncode == 0, r.stderr.strip())
    r = cli.run("delete", "secret", "s1")
    check("delete what is gone: exit 3", r.returncode == 3, r.stderr.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--version", required=True, help="the project's version (CMake)")
    args = ap.parse_args()
    bin_dir = os.path.join(args.build_dir, "bin")
    work = tempfile.mkdtemp(prefix="dispatch-cli-test-")
    cli = Cli(bin_dir, work)
    try:
        binaries_checks(bin_dir, args.version)
        cli.start()
        usage_checks(cli)
        output_checks(cli)
        lifecycle_checks(cli)
    except Exception as e:  # noqa: BLE001
        step_failed("cli test", e)
    finally:
        cli.stop()
    return summary(f"kept {work}", lambda: shutil.rmtree(work, ignore_errors=True))


if __name__ == "__main__":
    sys.exit(main())
