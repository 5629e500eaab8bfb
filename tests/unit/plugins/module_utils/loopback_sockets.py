"""Loopback sockets for the TCP prober's tests, and for benchmarks/ (which import this file too):
ports nobody listens on, a listener whose accept queue is full (SYNs dropped: a silent target
without leaving the host), and an accept loop for small servers run by a thread.
"""

import socket
import threading
import time


def closed_ports(count):
    """``count`` loopback ports nobody listens on (all bound at once, so distinct, then closed: each
    was free a moment ago)."""
    socks = []
    for _i in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        socks.append(sock)
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def dropping_listener(settle=0.0):
    """(listener, fillers, port): a loopback listener that never accepts, its accept queue filled
    by four connections, so the kernel drops every further SYN. ``settle``: seconds to wait for
    the fillers' handshakes. Close it with ``close_dropping_listener``."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sink.bind(("127.0.0.1", 0))
    sink.listen(0)
    port = sink.getsockname()[1]
    fillers = []
    try:
        for _i in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
    except Exception:
        close_dropping_listener(sink, fillers)
        raise
    if settle:
        time.sleep(settle)
    return sink, fillers, port


def close_dropping_listener(sink, fillers):
    for filler in fillers:
        filler.close()
    sink.close()


def accept_each(sock, handle):
    """Call ``handle(conn)`` for every connection accepted on ``sock``, until ``sock`` is closed."""
    while True:
        try:
            conn, _addr = sock.accept()
        except OSError:
            return
        handle(conn)


def serve_in_thread(sock, handle):
    """``accept_each(sock, handle)`` in a daemon thread; the thread."""
    thread = threading.Thread(target=accept_each, args=(sock, handle))
    thread.daemon = True
    thread.start()
    return thread
