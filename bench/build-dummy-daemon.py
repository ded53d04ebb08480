#!/usr/bin/env python3
"""A stand-in daemon for bench/build.sh: answers /_ping, /version and POST /build (reading the
whole context, then one aux and one stream line) on a unix socket, doing no build at all, so
timing a client against it gives that client's own floor (walk, tar and send the context)."""
import socketserver, sys, os, json
from http.server import BaseHTTPRequestHandler
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, body, ctype="application/json"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_HEAD(self):
        self.send_response(200); self.send_header("Api-Version","1.41"); self.send_header("Content-Length","0"); self.end_headers()
    def do_GET(self):
        if self.path.endswith("/_ping"): return self.send(b"OK", "text/plain")
        return self.send(json.dumps({"ApiVersion":"1.41","Version":"20.10.0","MinAPIVersion":"1.12","Os":"linux","Arch":"amd64"}).encode())
    def do_POST(self):
        n = 0
        if self.headers.get("Transfer-Encoding","").lower() == "chunked":
            while True:
                line = self.rfile.readline()
                size = int(line.strip().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""): pass
                    break
                n += len(self.rfile.read(size)); self.rfile.readline()
        else:
            n = len(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        sys.stderr.write(f"{self.path[:60]} body {n}\n")
        self.send(b'{"aux":{"ID":"sha256:' + b'a'*64 + b'"}}\r\n{"stream":"sha256:' + b'a'*64 + b'\\n"}\r\n')
class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    def get_request(self):
        r, _ = super().get_request(); return r, ("local", 0)
p = sys.argv[1]
if os.path.exists(p): os.unlink(p)
S(p, H).serve_forever()
