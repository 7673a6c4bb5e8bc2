#!/usr/bin/env python3
"""The sandbox pods' DNS server: answers Service names from the Kubernetes API, never forwards.

Serves UDP and TCP DNS on --listen. Every second it lists Services and Endpoints from the API
server named in --kubeconfig (server URL, certificate-authority file or data, bearer token)
and answers, case-insensitively, with TTL 5:

  SVC.NS.svc.DOMAIN            A: the ClusterIP(s); for a headless Service, its ready endpoints
  HOSTNAME.SVC.NS.svc.DOMAIN   A: the endpoint with that hostname (StatefulSet pods)
  NAME from --hosts FILE       A: static names, lines "NAME IP" (# comments; re-read on change)

A known name asked for another type (AAAA, ...) gets NOERROR without answers; every other name
gets NXDOMAIN (with the cluster domain's SOA in authority for names inside it). Until the first
successful list, cluster names get SERVFAIL so no pod caches a false NXDOMAIN. Nothing is ever
sent anywhere but to the API server. Malformed packets are dropped. Each query is logged as one
line "TIME query CLIENT NAME TYPE RCODE ANSWERS" to --log (default stderr).
"""
import argparse
import base64
import ipaddress
import json
import os
import re
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.request

TTL = 5
TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA",
         33: "SRV", 65: "HTTPS", 255: "ANY"}
RCODES = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP"}


def kubeconfig(path):
    """(server, ssl context, token) from a kubeconfig: JSON, or the simple YAML kubectl accepts.

    Takes the first cluster and user; sandbox kubeconfigs have exactly one of each."""
    text = open(path).read()
    try:
        doc = json.loads(text)
        cluster, user = doc["clusters"][0]["cluster"], doc["users"][0]["user"]
    except ValueError:
        def field(key):
            m = re.search(r"(?:^|[\s{,])%s:\s*[\"']?([^\"',}\s]+)" % re.escape(key), text, re.M)
            return m.group(1) if m else None
        cluster = {k: field(k) for k in ("server", "certificate-authority", "certificate-authority-data")}
        user = {"token": field("token")}
    ctx = ssl.create_default_context()
    if cluster.get("certificate-authority-data"):
        ctx.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    elif cluster.get("certificate-authority"):
        ctx.load_verify_locations(cafile=cluster["certificate-authority"])
    return cluster["server"].rstrip("/"), ctx, user.get("token")


class Records:
    """The name table, rebuilt from the API server and the hosts file."""

    def __init__(self, args):
        self.domain = args.domain.lower().strip(".")
        self.server, self.ctx, self.token = kubeconfig(args.kubeconfig)
        self.hosts_file, self.hosts_mtime, self.hosts = args.hosts, None, {}
        self.cluster = None  # name -> [IPv4]; None until the first successful list
        self.lock = threading.Lock()

    def get(self, path):
        req = urllib.request.Request(self.server + path)
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        # No proxies: the API server is local, and nothing else may be contacted.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=self.ctx))
        with opener.open(req, timeout=5) as resp:
            return json.load(resp)["items"]

    def refresh_cluster(self):
        services, endpoints = self.get("/api/v1/services"), self.get("/api/v1/endpoints")
        eps = {(e["metadata"]["namespace"], e["metadata"]["name"]): e for e in endpoints}
        table = {}
        for s in services:
            ns, name, spec = s["metadata"]["namespace"], s["metadata"]["name"], s.get("spec", {})
            fqdn = "%s.%s.svc.%s" % (name, ns, self.domain)
            ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"]
            headless = spec.get("clusterIP") == "None"
            table.setdefault(fqdn, [])
            for subset in eps.get((ns, name), {}).get("subsets") or []:
                addrs = list(subset.get("addresses") or [])
                if spec.get("publishNotReadyAddresses"):
                    addrs += subset.get("notReadyAddresses") or []
                for a in addrs:
                    if headless:
                        ips.append(a["ip"])
                    if a.get("hostname"):
                        table.setdefault("%s.%s" % (a["hostname"].lower(), fqdn), []).append(a["ip"])
            table[fqdn] += ips
        for name in list(table):  # parents exist too: they answer NOERROR, not NXDOMAIN
            labels = name.split(".")
            for i in range(1, len(labels) - self.domain.count(".")):
                table.setdefault(".".join(labels[i:]), [])
        with self.lock:
            self.cluster = {k: [ip for ip in v if ":" not in ip] for k, v in table.items()}

    def refresh_hosts(self):
        if not self.hosts_file:
            return
        mtime = os.stat(self.hosts_file).st_mtime
        if mtime == self.hosts_mtime:
            return
        hosts = {}
        for line in open(self.hosts_file):
            parts = line.split("#")[0].split()
            if len(parts) >= 2:
                ipaddress.IPv4Address(parts[1])
                hosts.setdefault(parts[0].lower().strip("."), []).append(parts[1])
        with self.lock:
            self.hosts, self.hosts_mtime = hosts, mtime

    def loop(self, log):
        failing = {}
        while True:
            for what, refresh in (("hosts", self.refresh_hosts), ("api", self.refresh_cluster)):
                try:
                    refresh()
                    if failing.pop(what, False):
                        log("refresh of %s: ok again" % what)
                except Exception as e:  # keep serving the last good table
                    if not failing.get(what):
                        log("refresh of %s failed (retrying every second): %r" % (what, e))
                    failing[what] = True
            time.sleep(1)

    def lookup(self, name):
        """(rcode, [IPv4] or None if the name does not exist, authoritative)."""
        in_domain = name == self.domain or name.endswith("." + self.domain)
        with self.lock:
            if name in self.hosts:
                return 0, self.hosts[name], True
            if in_domain and self.cluster is None:
                return 2, None, False
            if in_domain and name in self.cluster:
                return 0, self.cluster[name], True
        return 3, None, in_domain


def encode_name(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\0"


def parse_query(data):
    """(id, flags, qname, qtype, qclass, question bytes) or None for anything malformed."""
    if len(data) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", data[:6])
    if flags & 0x8000 or qd != 1:  # a response, or not exactly one question
        return None
    pos, labels = 12, []
    while True:
        if pos >= len(data) or data[pos] & 0xC0:  # truncated, or a pointer (invalid here)
            return None
        n = data[pos]
        pos += 1
        if n == 0:
            break
        label = data[pos:pos + n]
        if len(label) < n:
            return None
        labels.append(label.decode("ascii", "replace").lower())
        pos += n
    if pos + 4 > len(data) or pos - 12 > 255:
        return None
    qtype, qclass = struct.unpack("!HH", data[pos:pos + 4])
    return qid, flags, ".".join(labels), qtype, qclass, data[12:pos + 4]


def answer(records, data, client, log, limit):
    q = parse_query(data)
    if q is None:
        log("dropped malformed packet from %s (%d bytes)" % (client, len(data)))
        return None
    qid, flags, name, qtype, qclass, question = q
    opcode = (flags >> 11) & 0xF
    answers, authority, aa = [], [], False
    if opcode != 0:
        rcode = 4
    else:
        rcode, ips, aa = records.lookup(name)
        if ips and qclass in (1, 255) and qtype in (1, 255):
            answers = [struct.pack("!HHHIH", 0xC00C, 1, 1, TTL, 4) + socket.inet_aton(ip) for ip in ips]
        in_zone = name == records.domain or name.endswith("." + records.domain)
        if rcode in (0, 3) and not answers and in_zone:  # negative answer from our zone: its SOA
            soa = (encode_name("ns.dns." + records.domain) + encode_name("hostmaster." + records.domain)
                   + struct.pack("!IIIII", int(time.time()) & 0xFFFFFFFF, 60, 60, 3600, TTL))
            authority = [encode_name(records.domain) + struct.pack("!HHIH", 6, 1, TTL, len(soa)) + soa]
    out_flags = 0x8000 | (opcode << 11) | (0x0400 if aa else 0) | (flags & 0x0100) | rcode
    body = question + b"".join(answers) + b"".join(authority)
    if 12 + len(body) > limit:  # UDP too small: truncate, the client retries over TCP
        out_flags, answers, authority, body = out_flags | 0x0200, [], [], question
    log("query %s %s %s %s %s" % (client, name or ".", TYPES.get(qtype, "TYPE%d" % qtype),
                            RCODES.get(rcode, str(rcode)), len(answers)))
    return struct.pack("!HHHHHH", qid, out_flags, 1, len(answers), len(authority), 0) + body


class UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        try:
            reply = answer(self.server.records, data, self.client_address[0], self.server.log, 512)
            if reply:
                sock.sendto(reply, self.client_address)
        except Exception as e:
            self.server.log("error on UDP query from %s: %r" % (self.client_address[0], e))


class TCPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        conn = self.request
        conn.settimeout(10)
        try:
            while True:
                head = conn.recv(2, socket.MSG_WAITALL)
                if len(head) < 2:
                    return
                (n,) = struct.unpack("!H", head)
                data = conn.recv(n, socket.MSG_WAITALL)
                reply = answer(self.server.records, data, self.client_address[0], self.server.log, 65535)
                if reply is None:
                    return  # malformed: close the connection
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except (OSError, ValueError):
            return


class UDPServer(socketserver.ThreadingMixIn, socketserver.UDPServer):
    daemon_threads = True
    allow_reuse_address = True


class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True, help="IP:PORT")
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--domain", default="cluster.local")
    ap.add_argument("--hosts", help='file of "NAME IP" lines')
    ap.add_argument("--log", help="query log file (default stderr)")
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)

    out = open(args.log, "a", buffering=1) if args.log else sys.stderr
    log_lock = threading.Lock()

    def log(line):
        with log_lock:
            out.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), line))
            out.flush()

    records = Records(args)
    servers = [UDPServer((host, int(port)), UDPHandler), TCPServer((host, int(port)), TCPHandler)]
    for s in servers:
        s.records, s.log = records, log
        threading.Thread(target=s.serve_forever, daemon=True).start()
    threading.Thread(target=records.loop, args=(log,), daemon=True).start()
    log("listening on %s (udp, tcp) for %s, api %s" % (args.listen, records.domain, records.server))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(3600):
        pass
    for s in servers:
        s.shutdown()
        s.server_close()
    log("stopped")


if __name__ == "__main__":
    main()
