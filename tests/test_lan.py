"""The addresses `make app` prints for students (viz_app.lan): reachable ones only, in URL form."""

from __future__ import annotations

import pytest

from viz_app import lan

FOUND = ["192.0.2.7", "fd00::7"]


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("192.0.2.7", True),
        ("10.1.2.3", True),
        ("fd00::7", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("169.254.3.4", False),
        ("fe80::1%eth0", False),
        ("0.0.0.0", False),
        ("not-an-address", False),
    ],
)
def test_usable_keeps_only_addresses_other_machines_can_reach(address, ok):
    assert lan.usable(address) is ok


def test_every_address_when_listening_on_all():
    assert lan.urls(8501, None, FOUND) == [
        ("this machine", "http://localhost:8501"),
        ("students", "http://192.0.2.7:8501"),
        ("students", "http://[fd00::7]:8501"),
    ]
    assert lan.urls(8502, "::", FOUND)[1:] == [
        ("students", "http://192.0.2.7:8502"),
        ("students", "http://[fd00::7]:8502"),
    ]


def test_ipv4_wildcard_leaves_ipv6_out():
    assert lan.urls(8501, "0.0.0.0", FOUND)[1:] == [("students", "http://192.0.2.7:8501")]


def test_a_specific_address_is_the_only_one():
    assert lan.urls(9000, "192.0.2.9", FOUND) == [
        ("this machine", "http://localhost:9000"),
        ("students", "http://192.0.2.9:9000"),
    ]
    assert lan.urls(9000, "127.0.0.1", FOUND) == [("this machine", "http://localhost:9000")]


def test_found_addresses_are_reachable_and_ipv4_first():
    found = lan.lan_addresses()
    assert all(lan.usable(a) for a in found)
    assert len(found) == len(set(found))
    kinds = [":" in a for a in found]
    assert kinds == sorted(kinds)


def test_main_prints_the_local_url(capsys):
    assert lan.main(["--port", "8123", "--address", "127.0.0.1"]) == 0
    out = capsys.readouterr().out
    assert "http://localhost:8123" in out and "only through a reverse proxy" in out
