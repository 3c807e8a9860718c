"""Refuse a busy port before a server starts, in one line naming the Makefile value that moves it.

    python -m <package>.ops.ports --host 127.0.0.1 --port 3000 --target serve-bento --variable BENTO_PORT

A server that cannot bind may log the error and still exit 0 (MLflow's UI does), after its address
was printed; on macOS, port 5000 answers with AirPlay's 403 instead. So the Makefile's servers ask
first.
"""

from __future__ import annotations

import argparse
import socket

from ..common.errors import PipelineError, run_main


def in_use(host: str, port: int) -> bool:
    """Whether a program already listens on host:port: it accepts a connection there, or the
    address cannot be bound (SO_REUSEADDR, as servers set it: a closed server's TIME_WAIT is no
    obstacle). Both, because macOS lets a program bind 127.0.0.1 under another one's wildcard."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        raise PipelineError(
            f"HOST={host} is not an address here: use 127.0.0.1 (or 0.0.0.0 for all)"
        ) from None
    reach = ("127.0.0.1" if family == socket.AF_INET else "::1") if host in ("0.0.0.0", "::") else address[0]
    with socket.socket(family, kind, protocol) as probe:
        probe.settimeout(1)
        if probe.connect_ex((reach, port)) == 0:
            return True
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError:
            return True
    return False


def ensure_free(host: str, port: int, target: str, variable: str) -> None:
    """A PipelineError naming `make <target> <variable>=<a free port>` when host:port is taken."""
    if not in_use(host, port):
        return
    free = next((other for other in range(port + 1, port + 50) if not in_use(host, other)), None)
    example = f"make {target} {variable}={free if free is not None else '<port>'}"
    raise PipelineError(f"port {port} on {host} is taken by another program: pick another, e.g. {example}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--target", required=True, help="the make target that starts the server")
    parser.add_argument("--variable", required=True, help="the Makefile value that sets the port")
    args = parser.parse_args()
    ensure_free(args.host, args.port, args.target, args.variable)


if __name__ == "__main__":
    run_main(main)
