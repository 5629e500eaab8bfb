"""lbdoctor lab app: a tiny HTTP/1.0 server that answers 200 (or --status) on every path.

  lab-app --listen ADDRESS --port PORT [--v6only] [--name NAME] [--status CODE]

With LISTEN_FDS=1 (systemd socket activation) it serves the socket on fd 3 instead of binding.
Bind errors are printed as one line ("cannot bind 0.0.0.0:8080: [Errno 98] Address already in use")
and the process exits 1, so the unit fails the way a real service does.
"""

import argparse
import http.server
import os
import socket
import socketserver
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "lab-app/1"
    name = "app"
    status = 200

    def do_GET(self):
        body = ("%s on %s\n" % (self.name, socket.gethostname())).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    v6only = None

    def server_bind(self):
        if self.v6only is not None and self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if self.v6only else 0)
        socketserver.TCPServer.server_bind(self)
        self.server_name = "lab-app"
        self.server_port = self.server_address[1]


def notify_ready():
    """Tell systemd (Type=notify) that the socket is bound: units ordered after this one see the port taken."""
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(path)
        sock.sendall(b"READY=1")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", default="0.0.0.0")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--v6only", action="store_true")
    parser.add_argument("--name", default="app")
    parser.add_argument("--status", type=int, default=200)
    args = parser.parse_args()
    Handler.name = args.name
    Handler.status = args.status
    family = socket.AF_INET6 if ":" in args.listen else socket.AF_INET
    Server.address_family = family
    if args.v6only:
        Server.v6only = True
    elif family == socket.AF_INET6:
        Server.v6only = False
    if os.environ.get("LISTEN_FDS") == "1" and os.environ.get("LISTEN_PID") == str(os.getpid()):
        sock = socket.socket(fileno=3)
        Server.address_family = sock.family
        server = Server(sock.getsockname()[:2], Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = sock
    else:
        try:
            server = Server((args.listen, args.port), Handler)
        except OSError as exc:
            print("lab-app: cannot bind %s:%d: %s" % (args.listen, args.port, exc), file=sys.stderr, flush=True)
            return 1
    print("lab-app: %s listening on %s:%d" % (args.name, args.listen, args.port), flush=True)
    notify_ready()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
