"""Listening sockets of ``viq serve --workers N``: one per worker, on the same address (``SO_REUSEPORT``).

uvicorn's supervisor binds one socket and every worker accepts from it. Whichever worker wakes first takes every
connection waiting, so a burst of clients opening keep-alive connections lands unevenly: with 50 clients and 4
workers ``bench_api.py`` counted 30, 17, 10 and 5 connections per worker, and the clients of the busiest one
waited longest (1 M products on PostgreSQL: p95 about 3x p50). With a socket per worker bound with
``SO_REUSEPORT`` the kernel spreads new connections over the workers' sockets by a hash of the addresses (18, 16,
15 and 10 in the same benchmark; p95 about 2x p50 at the same throughput).

The supervisor still hands the same list to every worker it starts (and to each one it restarts); the list holds a
:class:`ReusePortListener`, which is pickled to the worker and turns into a socket of that worker alone when the
worker unpickles it. A worker that dies takes its socket with it, so no connection waits on a socket nobody
accepts from.

The supervisor keeps one socket bound to the address, without listening (it receives no connections): it
reserves the port against programs that do not set ``SO_REUSEPORT``. ``SO_REUSEPORT`` would let a second
``viq serve`` of the same user on the same port share it silently, so :func:`reserve` refuses an address where
something already answers.
"""

from __future__ import annotations

import socket
from typing import Any


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def bind_reuse_port(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` with ``SO_REUSEADDR`` and ``SO_REUSEPORT`` (not yet listening)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def reserve(host: str, port: int) -> socket.socket:
    """The supervisor's bound (not listening) socket; OSError when the address is taken or already answers."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            pass
    except OSError:
        return bind_reuse_port(host, port)
    raise OSError(f"{host}:{port} is in use (something answers there)")


class ReusePortListener:
    """Stands in uvicorn's socket list for a socket of each worker; see the module docstring."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return bind_reuse_port, (self.host, self.port)


def reuse_port_supported() -> bool:
    """Whether the platform has ``SO_REUSEPORT`` (Linux, the BSDs and macOS do)."""
    return hasattr(socket, "SO_REUSEPORT")
