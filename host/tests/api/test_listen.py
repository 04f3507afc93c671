"""``viq serve --workers``: per-worker listening sockets (SO_REUSEPORT) and the supervisor's port reservation."""

from __future__ import annotations

import pickle
import socket

import pytest

from viq_host.api.listen import ReusePortListener, reserve

pytestmark = pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT on this platform")


def test_each_unpickled_listener_is_a_new_socket_on_the_reserved_port() -> None:
    """The supervisor's reservation is bound but does not listen; every unpickling of the stand-in (one per worker
    started) gives a distinct socket on the same port, with SO_REUSEPORT set, that can listen beside the others."""
    held = reserve("127.0.0.1", 0)
    port = held.getsockname()[1]
    listener = ReusePortListener("127.0.0.1", port)
    socks: list[socket.socket] = []
    try:
        data = pickle.dumps([listener])
        socks = [pickle.loads(data)[0] for _ in range(3)]
        assert len({s.fileno() for s in socks}) == 3
        for s in socks:
            assert isinstance(s, socket.socket)
            assert s.getsockname() == ("127.0.0.1", port)
            assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            s.listen(8)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # accepted by one of the listening sockets' queues
    finally:
        for s in socks:
            s.close()
        held.close()


def test_reserve_refuses_an_address_where_something_answers() -> None:
    """A port with a listener (even one that set SO_REUSEPORT, e.g. another viq serve) is refused; a port bound
    without SO_REUSEPORT cannot be shared either."""
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("127.0.0.1", 0))
    other.listen(4)
    try:
        with pytest.raises(OSError, match="in use"):
            reserve("127.0.0.1", other.getsockname()[1])
    finally:
        other.close()
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(OSError, match="in use"):
            reserve("127.0.0.1", plain.getsockname()[1])
    finally:
        plain.close()
