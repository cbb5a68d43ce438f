/**
 * Parses syslog messages: RFC 5424, RFC 3164 (BSD), and the bare `<PRI>message` that many
 * libraries send to a local socket (Python's `SysLogHandler` among them).
 *
 * @module
 */

/** Facility names by number (RFC 5424 section 6.2.1). */
const FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp',
  'ntp', 'audit', 'alert', 'clock', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;

/** Severity names by number. */
const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

/**
 * One parsed syslog message. Fields the format did not carry are `null`.
 *
 * @example
 * ```ts
 * const message: SyslogMessage = parseSyslog('<13>Feb  5 17:32:18 host app[42]: started');
 * ```
 */
export interface SyslogMessage {
  format: 'rfc5424' | 'rfc3164' | 'bare';
  facility: string;
  severity: string;
  timestamp: string | null;
  hostname: string | null;
  appName: string | null;
  procId: string | null;
  msgId: string | null;
  structuredData: string | null;
  message: string;
}

/**
 * Parses one syslog datagram. Throws a `SyntaxError` naming what is wrong when it has no valid
 * `<PRI>` header.
 *
 * @example
 * ```ts
 * parseSyslog('<165>1 2003-10-11T22:14:15.003Z host app 42 ID47 - hello').appName; // 'app'
 * ```
 */
export function parseSyslog(data: Buffer | string): SyslogMessage {
  const text = (typeof data === 'string' ? data : data.toString('utf8')).replace(/[\0\r\n]+$/, '');
  const header = /^<(\d{1,3})>/.exec(text);
  const pri = header === null ? Number.NaN : Number(header[1]);
  if (header === null || pri > 191) {
    throw new SyntaxError(`Not a syslog message: expected it to start with <PRI> (0 to 191), got ${JSON.stringify(text.slice(0, 20))}`);
  }
  const base = { facility: FACILITIES[pri >> 3]!, severity: SEVERITIES[pri & 7]! };
  const rest = text.slice(header[0].length);
  if (rest.startsWith('1 ')) return { ...base, ...parse5424(rest.slice(2)) };
  return { ...base, ...parse3164(rest) };
}

const nil = (field: string | undefined): string | null => (field === undefined || field === '-' ? null : field);

function parse5424(rest: string): Omit<SyslogMessage, 'facility' | 'severity'> {
  const fields = /^(\S+) (\S+) (\S+) (\S+) (\S+) /.exec(rest);
  if (fields === null) return { ...empty('rfc5424'), message: rest };
  let cursor = fields[0].length;
  let structuredData: string | null = null;
  if (rest[cursor] === '[') {
    const start = cursor;
    // Elements are [...] with \] escapes, possibly several in a row.
    while (rest[cursor] === '[') {
      cursor++;
      while (cursor < rest.length && rest[cursor] !== ']') cursor += rest[cursor] === '\\' ? 2 : 1;
      cursor++;
    }
    structuredData = rest.slice(start, cursor);
  } else {
    cursor++; // the NILVALUE '-'
  }
  const message = rest.slice(cursor + 1).replace(/^\uFEFF/, '');
  return {
    format: 'rfc5424',
    timestamp: nil(fields[1]),
    hostname: nil(fields[2]),
    appName: nil(fields[3]),
    procId: nil(fields[4]),
    msgId: nil(fields[5]),
    structuredData,
    message,
  };
}

function parse3164(rest: string): Omit<SyslogMessage, 'facility' | 'severity'> {
  const stamped = /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) /.exec(rest);
  const body = stamped === null ? rest : rest.slice(stamped[0].length);
  const tagged = /^([^\s:[\]]{1,48})(?:\[([^\]]*)\])?: ?/.exec(body);
  return {
    ...empty(stamped === null ? 'bare' : 'rfc3164'),
    timestamp: stamped?.[1] ?? null,
    hostname: stamped?.[2] ?? null,
    appName: tagged?.[1] ?? null,
    procId: tagged?.[2] ?? null,
    message: tagged === null ? body : body.slice(tagged[0].length),
  };
}

function empty(format: SyslogMessage['format']): Omit<SyslogMessage, 'facility' | 'severity'> {
  return { format, timestamp: null, hostname: null, appName: null, procId: null, msgId: null, structuredData: null, message: '' };
}

/**
 * Formats a message as one line: `severity facility host app[pid]: message`.
 *
 * @example
 * ```ts
 * formatSyslog(parseSyslog('<14>app: hi')); // 'info user - app: hi'
 * ```
 */
export function formatSyslog(message: SyslogMessage): string {
  const app = message.appName === null ? '-' : message.procId === null ? message.appName : `${message.appName}[${message.procId}]`;
  return `${message.severity} ${message.facility} ${message.hostname ?? '-'} ${app}: ${message.message.replace(/\n/g, '\\n')}`;
}
