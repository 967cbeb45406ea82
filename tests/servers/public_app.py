"""The public app on a real uvicorn server on 127.0.0.1 (a socket bound to a free port), in a thread."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager


@contextmanager
def public_server(settings):
    """Yield the base URL of ``milestones serve``'s app for ``settings``; stopped on exit."""
    import uvicorn

    from milestones.public import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the public app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        app.state.public.close()  # the writer process finishes and stops
