"""A real DNS server on loopback for the DNS tests: dnsmasq serving a small test zone.

Beside it run two tiny UDP peers on loopback that dnsmasq forwards to: one that never answers
(the timeout path) and one that answers every query with SERVFAIL.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode

ZONE = """\
no-resolv
no-hosts
bind-interfaces
listen-address=127.0.0.1
port={port}
local=/test/
local=/in-addr.arpa/
# good.test: two MX at preference 10 (one group), one at 20
mx-host=good.test,mx1.good.test,10
mx-host=good.test,mx2.good.test,10
mx-host=good.test,mx3.good.test,20
host-record=mx1.good.test,192.0.2.10,2001:db8::10
host-record=mx2.good.test,192.0.2.11
host-record=mx3.good.test,192.0.2.12
txt-record=good.test,"v=spf1 include:_spf.good.test mx -all"
txt-record=_spf.good.test,"v=spf1 ip4:192.0.2.0/24 a ~all"
txt-record=_dmarc.good.test,"v=DMARC1; p=reject; rua=mailto:dmarc@good.test; pct=100"
txt-record=_mta-sts.good.test,"v=STSv1; id=20261101T000000"
txt-record=_smtp._tls.good.test,"v=TLSRPTv1; rua=mailto:tlsrpt@good.test"
# RFC 7505 null MX
mx-host=nullmx.test,.,0
# misconfigurations: MX at a CNAME, MX at an IP literal, MX at a name without addresses
mx-host=cnamemx.test,alias.test,10
cname=alias.test,mx1.good.test
mx-host=iplit.test,192.0.2.99,10
mx-host=dangling.test,nowhere.dangling.test,10
# no MX at all: the implicit MX is the domain's own address
host-record=implicit.test,192.0.2.20
# an IDN domain, stored in its punycode form
mx-host=xn--bcher-kva.test,mx1.good.test,5
# SPF over the 10-lookup limit through a chain of includes
txt-record=many.test,"v=spf1 include:a.many.test include:b.many.test mx a -all"
txt-record=a.many.test,"v=spf1 a mx ptr exists:x.many.test include:c.many.test ~all"
txt-record=b.many.test,"v=spf1 a mx a:one.many.test a:two.many.test ~all"
txt-record=c.many.test,"v=spf1 a mx ~all"
# reverse DNS: 192.0.2.10 confirms forward, 192.0.2.50 claims a name that does not
ptr-record=10.2.0.192.in-addr.arpa,mx1.good.test
ptr-record=50.2.0.192.in-addr.arpa,liar.good.test
host-record=liar.good.test,198.51.100.7
# a DNS blocklist that lists 192.0.2.99
host-record=99.2.0.192.bl.test,127.0.0.2
txt-record=99.2.0.192.bl.test,"Listed: spam source, see https://bl.test/lookup"
local=/bl.test/
# the failure paths
server=/slow.test/127.0.0.1#{silent}
server=/servfail.test/127.0.0.1#{servfail}
"""


def free_port() -> int:
    """A port of 127.0.0.1 free for UDP and for TCP: dnsmasq listens on both, and a port free
    for one may be some other process's TCP connection (a Dask test's, say)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise OSError("no port of 127.0.0.1 is free for both UDP and TCP")


def _servfail_loop(sock: socket.socket, stop: threading.Event) -> None:
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(4096)
        except TimeoutError:
            continue
        except OSError:
            return
        try:
            query = dns.message.from_wire(data)
        except Exception:
            continue
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.SERVFAIL)
        response.flags |= dns.flags.RA
        sock.sendto(response.to_wire(), peer)


@contextmanager
def dnsmasq(workdir: Path) -> Iterator[str]:
    """Run dnsmasq with the test zone; yields ``127.0.0.1:PORT``."""
    binary = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    if not os.path.exists(binary):
        raise FileNotFoundError("dnsmasq")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    failing = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    failing.bind(("127.0.0.1", 0))
    stop = threading.Event()
    thread = threading.Thread(target=_servfail_loop, args=(failing, stop), daemon=True)
    thread.start()
    conf = workdir / "dnsmasq.conf"
    proc = None
    try:
        # The port is free when chosen but may be taken before dnsmasq binds it: then again.
        for attempt in range(5):
            port = free_port()
            conf.write_text(
                ZONE.format(
                    port=port, silent=silent.getsockname()[1], servfail=failing.getsockname()[1]
                ),
                encoding="utf-8",
            )
            proc = subprocess.Popen(
                [
                    binary,
                    "--keep-in-foreground",
                    f"--conf-file={conf}",
                    "--pid-file=",
                    "--user=root",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                _wait_until_answering(port, proc)
                break
            except RuntimeError as exc:
                if "Address already in use" not in str(exc) or attempt == 4:
                    raise
        yield f"127.0.0.1:{port}"
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.communicate(timeout=5)
        stop.set()
        thread.join(timeout=2)
        silent.close()
        failing.close()


def _wait_until_answering(port: int, proc: subprocess.Popen[bytes]) -> None:
    query = dns.message.make_query("mx1.good.test", "A").to_wire()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise RuntimeError(f"dnsmasq exited: {err.decode(errors='replace')}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(query, ("127.0.0.1", port))
                s.recvfrom(4096)
                return
            except OSError:
                time.sleep(0.05)
    raise RuntimeError("dnsmasq did not start answering within 10 s")
