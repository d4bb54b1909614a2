"""The addresses students can open: this machine's network addresses, found without sending a packet.

``python -m viz_app.lan --port 8501 [--address 0.0.0.0]`` prints the local URL and one URL per network
address of this machine (what ``make app`` shows before it starts the server). The addresses come from
``hostname -I`` (Linux), else from the kernel's interface table (``SIOCGIFADDR`` on each interface of
:func:`socket.if_nameindex`); neither asks the network anything. Loopback and link-local addresses are
left out: other machines cannot reach them.
"""

from __future__ import annotations

import argparse
import ipaddress
import shutil
import socket
import struct
import subprocess

__all__ = ["usable", "lan_addresses", "urls", "main"]

_SIOCGIFADDR = 0x8915  # Linux: an interface's IPv4 address


def usable(address: str) -> bool:
    """Whether another machine could reach this address (not loopback, link-local, unspecified)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast)


def _from_hostname() -> list[str]:
    exe = shutil.which("hostname")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, "-I"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return []
    return out.stdout.split() if out.returncode == 0 else []


def _from_interfaces() -> list[str]:
    try:
        import fcntl
    except ImportError:  # not a Unix
        return []
    found = []
    try:
        names = [name for _, name in socket.if_nameindex()]
    except OSError:
        return []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for name in names:
            try:
                req = struct.pack("256s", name.encode()[:15])
                found.append(socket.inet_ntoa(fcntl.ioctl(s.fileno(), _SIOCGIFADDR, req)[20:24]))
            except OSError:  # an interface without an IPv4 address
                continue
    return found


def lan_addresses() -> list[str]:
    """This machine's reachable addresses, IPv4 first, without duplicates."""
    found = [a for a in _from_hostname() or _from_interfaces() if usable(a)]
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda a: ":" in a)  # stable: IPv4 before IPv6


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def urls(port: int, address: str | None = None, found: list[str] | None = None) -> list[tuple[str, str]]:
    """``(what, url)`` pairs: this machine, then each address students can use.

    Args:
        port: the server's port.
        address: the address the server listens on (``--server.address``): None (Streamlit's default)
            and ``::`` mean every address of this machine, ``0.0.0.0`` every IPv4 address.
        found: the machine's addresses (default: :func:`lan_addresses`).
    """
    out = [("this machine", f"http://localhost:{port}")]
    if address and address not in ("0.0.0.0", "::"):
        if usable(address):
            out.append(("students", f"http://{_host(address)}:{port}"))
        return out
    for a in lan_addresses() if found is None else found:
        if address != "0.0.0.0" or ":" not in a:
            out.append(("students", f"http://{_host(a)}:{port}"))
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the URLs of an explorer served on ``--port`` (and ``--address``)."""
    p = argparse.ArgumentParser(description="Print the addresses students can open.")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="")
    a = p.parse_args(argv)
    pairs = urls(a.port, a.address or None)
    print("MeshCNN Explorer is starting. Open it at:")
    for what, url in pairs:
        print(f"  {what + ':':14s}{url}")
    if len(pairs) == 1:
        if a.address and a.address not in ("0.0.0.0", "::"):
            print(
                f"  (listening on {a.address} only: other machines reach it only through a reverse proxy "
                "on this machine; to serve them directly, listen on every address)"
            )
        else:
            print("  (no network address found: other machines cannot reach this one)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
