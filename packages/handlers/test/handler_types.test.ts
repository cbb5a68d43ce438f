/** A handler names its server type, so `this.server` needs no cast. Checked by `tsc` and at run time. */
import { expect, expectTypeOf, test } from 'vitest';
import { StreamRequestHandler, TCPServer, UDPServer, DatagramRequestHandler, type InetAddress } from 'sockserve';
import { exchange } from '../../../test/helpers/net.js';

class CountingServer extends TCPServer {
  greeted = 0;
}

class Greeter extends StreamRequestHandler<InetAddress, CountingServer> {
  override async handle(): Promise<void> {
    this.server.greeted += 1; // no cast: the handler said which server it runs under
    const { port } = this.server.serverAddress; // an InetAddress, not InetAddress | string
    await this.wfile.write(`hello ${this.server.greeted} from ${port}\n`);
  }
}

test('this.server has the type the handler names, and is that server', async () => {
  expectTypeOf<Greeter['server']>().toEqualTypeOf<CountingServer>();
  expectTypeOf<Greeter['server']['serverAddress']>().toEqualTypeOf<InetAddress>();
  // Without a server type, handlers see the common view.
  expectTypeOf<StreamRequestHandler['server']['serverAddress']>().toEqualTypeOf<InetAddress | string>();
  class Plain extends DatagramRequestHandler<InetAddress, unknown, UDPServer> {}
  expectTypeOf<Plain['server']>().toEqualTypeOf<UDPServer>();

  await using server = new CountingServer({ host: '127.0.0.1', port: 0 }, Greeter, { logger: false });
  await server.listen();
  void server.serveForever();
  expect((await exchange(server, '')).toString()).toBe(`hello 1 from ${server.serverAddress.port}\n`);
  expect(server.greeted).toBe(1);
});
