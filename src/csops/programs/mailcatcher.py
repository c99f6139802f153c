"""A mail catcher on loopback for the demo: an SMTP server that keeps every message as a file."""

from __future__ import annotations

import itertools
import socket
from pathlib import Path

from aiosmtpd.controller import Controller


class _Keep:
    def __init__(self, directory: Path):
        self.directory = directory
        self.count = itertools.count(len(list(directory.glob("*.eml"))) + 1)

    async def handle_DATA(self, server, session, envelope):
        path = self.directory / f"{next(self.count):06d}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        return "250 Kept"


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


def start(directory: Path, host: str = "127.0.0.1", port: int = 1025) -> Controller | None:
    """Start catching mail on host:port into `directory`; None when something already listens."""
    if not port_free(host, port):
        return None
    directory.mkdir(parents=True, exist_ok=True)
    controller = Controller(_Keep(directory), hostname=host, port=port)
    controller.start()
    return controller
