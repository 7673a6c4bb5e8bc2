#!/usr/bin/env python3
"""The sandbox's InfluxDB stand-in: Debian's InfluxDB 1.6 behind the container contract that
vigil's InfluxDB 2 Deployment relies on (InfluxDB 2 cannot be had on this machine).

What it honours of that contract:
  - port 8086, `GET /health` (200 `"status": "pass"` once influxd answers, 503 before), every
    other request passed to influxd unchanged (v1 `/write`, `/query`, `/ping`);
  - data under /var/lib/influxdb2 (the Deployment's volume); nothing written elsewhere;
  - on first start (DOCKER_INFLUXDB_INIT_MODE=setup): the admin user
    (DOCKER_INFLUXDB_INIT_USERNAME/PASSWORD), the database VIGIL_BUCKET with the retention
    DOCKER_INFLUXDB_INIT_RETENTION, and the two least-privilege v1 users vigil's init script
    creates: VIGIL_GRAFANA_USER may only read, VIGIL_COLLECTOR_USER may only write, their
    passwords from the same Secret keys; on every start the two passwords are set again, so a
    rotated Secret takes effect.
What it cannot show: InfluxDB 2 itself (no Flux, no /api/v2, no tokens, no orgs); the
/docker-entrypoint-initdb.d script (written for the influx 2 CLI) is not run: this does its
equivalent.
"""
import argparse
import base64
import http.client
import http.server
import json
import os
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

INTERNAL = ("127.0.0.1", 8087)
HEALTH = {"name": "influxdb", "message": "ready for queries and writes", "status": "pass",
          "checks": [], "version": "1.6-standin"}


def log(msg):
    print(f"influxdb-standin: {msg}", file=sys.stderr, flush=True)


def config(data_dir):
    d = os.path.join(data_dir, "standin")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "influxdb.conf")
    with open(path, "w") as f:
        f.write(f"""reporting-disabled = true
bind-address = "127.0.0.1:8089"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "{INTERNAL[0]}:{INTERNAL[1]}"
  auth-enabled = true
  log-enabled = false
[continuous_queries]
  enabled = false
""")
    return path


def influxql(q, user=None, password=None):
    body = urllib.parse.urlencode({"q": q}).encode()
    req = urllib.request.Request(f"http://{INTERNAL[0]}:{INTERNAL[1]}/query", data=body, method="POST")
    if user:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        out = json.load(r)
    for res in out.get("results", []):
        if "error" in res:
            raise RuntimeError(f"{q.split()[0]} ...: {res['error']}")
    return out


def ping():
    try:
        c = http.client.HTTPConnection(*INTERNAL, timeout=2)
        c.request("GET", "/ping")
        ok = c.getresponse().status == 204
        c.close()
        return ok
    except OSError:
        return False


def ident(name):
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name or ""):
        raise SystemExit(f"influxdb-standin: {name!r} is not a valid name")
    return f'"{name}"'


def quote(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def duration(s):
    """InfluxDB 2 retention (`30d`, `720h`, `0`/empty = forever) as an InfluxQL duration."""
    s = (s or "").strip()
    if s in ("", "0", "0s", "infinite"):
        return "INF"
    if not re.fullmatch(r"(\d+[wdhms])+", s):
        raise SystemExit(f"influxdb-standin: DOCKER_INFLUXDB_INIT_RETENTION {s!r} is not a duration")
    return s


def setup(data_dir):
    env = os.environ
    admin, admin_pw = env["DOCKER_INFLUXDB_INIT_USERNAME"], env["DOCKER_INFLUXDB_INIT_PASSWORD"]
    bucket = env.get("VIGIL_BUCKET") or env["DOCKER_INFLUXDB_INIT_BUCKET"]
    users = [(env["VIGIL_GRAFANA_USER"], env["VIGIL_GRAFANA_PASSWORD"], "READ"),
             (env["VIGIL_COLLECTOR_USER"], env["VIGIL_COLLECTOR_PASSWORD"], "WRITE")]
    marker = os.path.join(data_dir, "standin", "setup-done")
    if not os.path.exists(marker):
        if env.get("DOCKER_INFLUXDB_INIT_MODE") != "setup":
            raise SystemExit("influxdb-standin: no data and DOCKER_INFLUXDB_INIT_MODE is not 'setup'")
        if os.path.isdir("/docker-entrypoint-initdb.d"):
            log("the init scripts in /docker-entrypoint-initdb.d are for the influx 2 CLI; "
                "the stand-in creates the same database and users itself")
        # The first user may be created without credentials; it must be an admin.
        influxql(f"CREATE USER {ident(admin)} WITH PASSWORD {quote(admin_pw)} WITH ALL PRIVILEGES")
        influxql(f"CREATE DATABASE {ident(bucket)} WITH DURATION {duration(env.get('DOCKER_INFLUXDB_INIT_RETENTION'))} "
                 f"NAME autogen", admin, admin_pw)
        for user, pw, privilege in users:
            influxql(f"CREATE USER {ident(user)} WITH PASSWORD {quote(pw)}", admin, admin_pw)
            influxql(f"GRANT {privilege} ON {ident(bucket)} TO {ident(user)}", admin, admin_pw)
        with open(marker, "w") as f:
            f.write("done\n")
        log(f"set up database {bucket}, users {users[0][0]} (read) and {users[1][0]} (write)")
    else:
        for user, pw, _ in users:
            influxql(f"SET PASSWORD FOR {ident(user)} = {quote(pw)}", admin, admin_pw)
        log("existing data: passwords of the read and write users set from the environment")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _proxy(self):
        if self.path.split("?")[0] == "/health":
            ok = ping() and READY.is_set()
            body = json.dumps(HEALTH if ok else dict(HEALTH, status="fail", message="not ready")).encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "connection", "content-length", "transfer-encoding")}
        try:
            c = http.client.HTTPConnection(*INTERNAL, timeout=60)
            c.request(self.command, self.path, body=body, headers=headers)
            r = c.getresponse()
            data = r.read()
            c.close()
        except OSError as e:
            msg = json.dumps({"error": f"influxd unreachable: {e}"}).encode()
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "content-length", "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_OPTIONS = _proxy


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


READY = threading.Event()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="/var/lib/influxdb2")
    ap.add_argument("--listen", default="0.0.0.0:8086")
    a = ap.parse_args()
    host, port = a.listen.rsplit(":", 1)
    conf = config(a.data_dir)
    influxd = subprocess.Popen(["influxd", "-config", conf])

    def stop(signum, _frame):
        log(f"signal {signum}: stopping influxd")
        influxd.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = Server((host, int(port)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    deadline = time.monotonic() + 120
    while not ping():
        if influxd.poll() is not None:
            raise SystemExit(f"influxdb-standin: influxd exited with {influxd.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit("influxdb-standin: influxd did not answer /ping within 120 s")
        time.sleep(0.2)
    setup(a.data_dir)
    READY.set()
    log(f"ready on {a.listen}")
    code = influxd.wait()
    server.shutdown()
    log(f"influxd exited with {code}")
    sys.exit(0 if code in (0, -signal.SIGTERM) else 1)


if __name__ == "__main__":
    main()
