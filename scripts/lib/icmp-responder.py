#!/usr/bin/env python3
"""Userspace ICMP echo responder for the sandbox's test hosts.

This kernel has no netem, so delay and loss are emulated here. Run inside a network
namespace with net.ipv4.icmp_echo_ignore_all=1, it answers echo requests itself, each
after --delay-ms, and drops --loss-pct percent of them spread evenly (of every 10
requests with 30 %, exactly 3 are dropped), so tests get exact, repeatable loss. The
count is kept per sender (source address and ICMP identifier), so tests pinging at the
same time do not change each other's loss.
"""
import argparse
import heapq
import select
import socket
import struct
import time


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--loss-pct", type=int, default=0)
    args = ap.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    pending = []  # heap of (due, order, destination, icmp reply)
    counts = {}  # (source, identifier) -> echo requests seen
    order = 0
    while True:
        timeout = None
        if pending:
            timeout = max(0.0, pending[0][0] - time.monotonic())
        ready, _, _ = select.select([sock], [], [], timeout)
        if ready:
            packet, addr = sock.recvfrom(65535)
            ihl = (packet[0] & 0x0F) * 4
            icmp = packet[ihl:]
            if len(icmp) >= 8 and icmp[0] == 8 and icmp[1] == 0:
                sender = (addr[0], icmp[4:6])
                count = counts.get(sender, 0) + 1
                counts[sender] = count
                if len(counts) > 65536:
                    counts.clear()
                if (count * args.loss_pct) // 100 > ((count - 1) * args.loss_pct) // 100:
                    continue
                body = b"\0\0\0\0" + icmp[4:]
                body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
                order += 1
                due = time.monotonic() + args.delay_ms / 1000.0
                heapq.heappush(pending, (due, order, addr[0], body))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, dst, body = heapq.heappop(pending)
            try:
                sock.sendto(body, (dst, 0))
            except OSError:
                pass


if __name__ == "__main__":
    main()
