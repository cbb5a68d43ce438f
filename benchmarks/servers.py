# Python echo servers for comparison. Usage: python3 servers.py threading|asyncio [--unix PATH]
# Prints "READY <port-or-path> <pid>" once listening.
import asyncio, os, signal, socketserver, sys

kind = sys.argv[1]
unix = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--unix" else None
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


if kind == "threading":
    if unix:
        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True
            request_queue_size = 511
        server = Server(unix, Echo)
        address = unix
    else:
        socketserver.ThreadingTCPServer.daemon_threads = True
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        socketserver.ThreadingTCPServer.request_queue_size = 511  # the default of 5 drops connections
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
        address = server.server_address[1]
    print(f"READY {address} {os.getpid()}", flush=True)
    server.serve_forever()
else:
    async def echo(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    async def main():
        if unix:
            server = await asyncio.start_unix_server(echo, unix)
            address = unix
        else:
            server = await asyncio.start_server(echo, "127.0.0.1", 0)
            address = server.sockets[0].getsockname()[1]
        print(f"READY {address} {os.getpid()}", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())
