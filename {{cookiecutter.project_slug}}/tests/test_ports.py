"""ops.ports: a server's port is checked before it starts, and a busy one is refused in one line
that names the make value moving it."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from conftest import unused_port

from {{ cookiecutter.package_name }}.common.errors import PipelineError
from {{ cookiecutter.package_name }}.ops.ports import ensure_free, in_use


@pytest.fixture
def listener() -> Iterator[int]:
    """A port another program listens on (127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_listening_port_is_in_use_on_its_address_and_on_all(listener: int) -> None:
    assert in_use("127.0.0.1", listener)
    assert in_use("0.0.0.0", listener)  # a server on every address would answer there too


def test_a_port_nobody_listens_on_is_free() -> None:
    port = unused_port()
    assert not in_use("127.0.0.1", port)
    ensure_free("127.0.0.1", port, "ui", "PORT")  # no error


def test_a_busy_port_is_refused_naming_the_target_the_value_and_a_free_port(listener: int) -> None:
    with pytest.raises(PipelineError) as refused:
        ensure_free("127.0.0.1", listener, "serve-bento", "BENTO_PORT")
    message = str(refused.value)
    assert message.startswith(f"port {listener} on 127.0.0.1 is taken by another program")
    suggested = int(message.rsplit("make serve-bento BENTO_PORT=", 1)[1])
    assert suggested > listener and not in_use("127.0.0.1", suggested)


def test_a_host_that_is_no_address_is_named() -> None:
    with pytest.raises(PipelineError, match=r"HOST=no\.such\.host\.invalid is not an address here"):
        ensure_free("no.such.host.invalid", 5050, "ui", "PORT")
