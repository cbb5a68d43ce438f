import { describe, expect, test } from 'vitest';
import { tempDir, until } from '../../../test/helpers/net.js';
import { runExample, runPython } from '../../../test/helpers/spawn.js';
import { parseSyslog } from '../src/syslog_parser.js';

const READY = /listening on (\S+)/;

/** Logs three records through Python's logging.handlers.SysLogHandler to `address`. */
function pythonLogs(address: string[]): Promise<unknown> {
  return runPython(
    `
import logging, logging.handlers, socket, sys
if len(sys.argv) == 2:
    handler = logging.handlers.SysLogHandler(address=sys.argv[1])
else:
    handler = logging.handlers.SysLogHandler(address=(sys.argv[1], int(sys.argv[2])), socktype=socket.SOCK_DGRAM)
handler.setFormatter(logging.Formatter("pyapp[%(process)d]: %(message)s"))
log = logging.getLogger("t")
log.addHandler(handler)
log.setLevel(logging.DEBUG)
log.warning("disk almost full")
log.error("it broke")
log.info("multi\\nline")
handler.close()
`,
    address,
  );
}

describe('syslog example', () => {
  test('receives Python SysLogHandler records over a Unix datagram socket', async () => {
    using dir = tempDir();
    const path = dir.file('log.sock');
    await using syslog = await runExample('syslog', ['--unix', path], READY);
    await pythonLogs([path]);
    await until(() => syslog.stdout().split('\n').length >= 5);
    const lines = syslog.stdout().trim().split('\n').slice(1);
    expect(lines[0]).toMatch(/^warning user - pyapp\[\d+\]: disk almost full$/);
    expect(lines[1]).toMatch(/^err user - pyapp\[\d+\]: it broke$/);
    expect(lines[2]).toMatch(/^info user - pyapp\[\d+\]: multi\\nline$/);
  });

  test('receives Python SysLogHandler records over UDP', async () => {
    await using syslog = await runExample('syslog', ['--udp', '--port', '0'], READY);
    const port = syslog.banner[1]!.split(':').pop()!;
    await pythonLogs(['127.0.0.1', port]);
    await until(() => syslog.stdout().split('\n').length >= 5);
    expect(syslog.stdout()).toMatch(/err user - pyapp\[\d+\]: it broke/);
  });
});

describe('syslog parser', () => {
  test('parses RFC 5424 with structured data', () => {
    const message = parseSyslog(
      '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][x a="\\]"] \uFEFFAn application event',
    );
    expect(message).toMatchObject({
      format: 'rfc5424',
      facility: 'local4',
      severity: 'notice',
      timestamp: '2003-10-11T22:14:15.003Z',
      hostname: 'mymachine.example.com',
      appName: 'evntslog',
      procId: null,
      msgId: 'ID47',
      structuredData: '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][x a="\\]"]',
      message: 'An application event',
    });
  });

  test('parses RFC 5424 without structured data', () => {
    expect(parseSyslog('<34>1 2003-10-11T22:14:15.003Z host su 12 - - su root failed')).toMatchObject({
      facility: 'auth',
      severity: 'crit',
      procId: '12',
      structuredData: null,
      message: 'su root failed',
    });
  });

  test('parses RFC 3164', () => {
    expect(parseSyslog('<13>Feb  5 17:32:18 10.0.0.99 myapp[123]: Use the BFG!')).toMatchObject({
      format: 'rfc3164',
      facility: 'user',
      severity: 'notice',
      timestamp: 'Feb  5 17:32:18',
      hostname: '10.0.0.99',
      appName: 'myapp',
      procId: '123',
      message: 'Use the BFG!',
    });
  });

  test('rejects what is not syslog, saying why', () => {
    expect(() => parseSyslog('hello')).toThrow(/expected it to start with <PRI>/);
    expect(() => parseSyslog('<999>x')).toThrow(SyntaxError);
  });
});
