/**
 * The PROXY protocol (versions 1 and 2), as HAProxy, nginx, Envoy and cloud load balancers send it
 * in front of a connection: who the client really is, and what the balancer learned about it.
 * This module parses the header; stream transports read it (see `proxyProtocol`).
 *
 * @module
 */
import net from 'node:net';
import { SockserveError } from './errors.js';
import type { InetAddress, UnixAddress } from './types.js';

/**
 * A malformed PROXY protocol header, an unknown version, a header longer than the protocol allows,
 * a connection that sent something else, or none in time. The connection is closed before any
 * handler runs and reported as `'dropped'` (reason `'proxy-protocol'`).
 *
 * @example
 * ```ts
 * try {
 *   parseProxyHeader(bytes);
 * } catch (error) {
 *   if (error instanceof ProxyProtocolError) console.warn(error.message);
 * }
 * ```
 */
export class ProxyProtocolError extends SockserveError {
  constructor(message: string) {
    super(message, 'ERR_SOCKSERVE_PROXY_PROTOCOL');
    this.name = 'ProxyProtocolError';
  }
}

/**
 * What a PROXY v2 header's SSL TLV says about the client's TLS connection to the balancer.
 *
 * @example
 * ```ts
 * if (this.proxy?.tlvs.ssl?.verified) console.log('client certificate', this.proxy.tlvs.ssl.cn);
 * ```
 */
export interface ProxySsl {
  /** The client connected over TLS. */
  readonly tls: boolean;
  /** It presented a certificate in this connection (`PP2_CLIENT_CERT_CONN`). */
  readonly certificateInConnection: boolean;
  /** It presented a certificate in this session (`PP2_CLIENT_CERT_SESS`). */
  readonly certificateInSession: boolean;
  /** The balancer verified that certificate (the `verify` field was 0). */
  readonly verified: boolean;
  readonly version?: string;
  readonly cn?: string;
  readonly cipher?: string;
  readonly sigAlg?: string;
  readonly keyAlg?: string;
}

/**
 * The TLVs of a PROXY v2 header, decoded; every TLV is also in `raw`.
 *
 * @example
 * ```ts
 * const { alpn, authority, uniqueId } = this.proxy!.tlvs;
 * ```
 */
export interface ProxyTlvs {
  /** `PP2_TYPE_ALPN`: the protocol the client negotiated with the balancer. */
  readonly alpn?: string;
  /** `PP2_TYPE_AUTHORITY`: the host name the client asked for (SNI). */
  readonly authority?: string;
  /** `PP2_TYPE_UNIQUE_ID`: the balancer's identifier for the connection (up to 128 bytes). */
  readonly uniqueId?: Buffer;
  /** `PP2_TYPE_SSL`: the client's TLS connection to the balancer. */
  readonly ssl?: ProxySsl;
  /** `PP2_TYPE_NETNS`: the network namespace the connection was accepted in. */
  readonly netns?: string;
  /** Whether the header carried a `PP2_TYPE_CRC32C` checksum (it was checked: a wrong one is an error). */
  readonly crc32c: boolean;
  /** Every TLV as it came (type and value), including the ones decoded above. */
  readonly raw: ReadonlyArray<{ readonly type: number; readonly value: Buffer }>;
}

/**
 * A parsed PROXY protocol header, as `this.proxy` shows it to a handler.
 *
 * @example
 * ```ts
 * const { version, command, source, destination } = this.proxy!;
 * ```
 */
export interface ProxyInfo {
  readonly version: 1 | 2;
  /** `'PROXY'`: relayed for `source`; `'LOCAL'`: the balancer's own connection (a health check). */
  readonly command: 'PROXY' | 'LOCAL';
  /** `'tcp4'`, `'tcp6'`, `'udp4'`, `'udp6'`, `'unix'`, `'unix-dgram'`, or `'unknown'`. */
  readonly protocol: 'tcp4' | 'tcp6' | 'udp4' | 'udp6' | 'unix' | 'unix-dgram' | 'unknown';
  /** The original client, or `null` (LOCAL, UNKNOWN). */
  readonly source: InetAddress | UnixAddress | null;
  /** The address the client connected to, or `null`. */
  readonly destination: InetAddress | UnixAddress | null;
  /** Version 2 TLVs (empty for version 1). */
  readonly tlvs: ProxyTlvs;
}

/** The v2 signature: `\r\n\r\n\0\r\nQUIT\n`. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ');
/** A v1 header is at most 107 bytes, CRLF included. */
const V1_MAX = 107;
/**
 * The largest PROXY v2 header accepted, in bytes: the 16-byte preamble and 4 KiB of addresses and
 * TLVs, well beyond what balancers send. A longer one is refused.
 *
 * @example
 * ```ts
 * if (header.length > PROXY_V2_MAX) throw new ProxyProtocolError('too long');
 * ```
 */
export const PROXY_V2_MAX = 16 + 4096;

const NO_TLVS: ProxyTlvs = { crc32c: false, raw: [] };

/**
 * Parses a PROXY protocol header at the start of `data`. Returns the header and its length in
 * bytes (what follows belongs to the connection), or `undefined` when `data` is a valid beginning
 * that is not complete yet. Throws `ProxyProtocolError` as soon as the bytes cannot start a
 * header, or the header is malformed or too long.
 *
 * @example
 * ```ts
 * const parsed = parseProxyHeader(Buffer.from('PROXY TCP4 203.0.113.7 192.0.2.1 56324 443\r\nGET /'));
 * // parsed.header.source: { host: '203.0.113.7', port: 56324, family: 'IPv4' }; parsed.length: 44
 * ```
 */
export function parseProxyHeader(data: Buffer): { header: ProxyInfo; length: number } | undefined {
  if (data.length === 0) return undefined;
  if (data[0] === 0x50 /* P */) return parseV1(data);
  if (data[0] === 0x0d) return parseV2(data);
  throw new ProxyProtocolError('The connection did not start with a PROXY protocol header');
}

function parseV1(data: Buffer): { header: ProxyInfo; length: number } | undefined {
  const prefix = Math.min(data.length, V1_PREFIX.length);
  if (!data.subarray(0, prefix).equals(V1_PREFIX.subarray(0, prefix))) {
    throw new ProxyProtocolError('The connection did not start with a PROXY protocol header');
  }
  const end = data.indexOf('\r\n', 0, 'latin1');
  if (end === -1 || end + 2 > V1_MAX) {
    if (data.length >= V1_MAX || (end !== -1 && end + 2 > V1_MAX)) throw new ProxyProtocolError(`PROXY v1 header longer than ${V1_MAX} bytes`);
    // A lone CR or LF before the end is malformed.
    if (data.indexOf(0x0a) !== -1) throw new ProxyProtocolError('PROXY v1 header with a line feed not preceded by a carriage return');
    return undefined;
  }
  const line = data.toString('latin1', 0, end);
  if (/[^\x20-\x7e]/.test(line)) throw new ProxyProtocolError('PROXY v1 header with characters outside printable ASCII');
  const parts = line.split(' ');
  const length = end + 2;
  if (parts[1] === 'UNKNOWN') {
    return { header: { version: 1, command: 'PROXY', protocol: 'unknown', source: null, destination: null, tlvs: NO_TLVS }, length };
  }
  if (parts.length !== 6) throw new ProxyProtocolError(`PROXY v1 header with ${parts.length} fields, 6 expected: ${JSON.stringify(line)}`);
  const [, family, sourceHost, destinationHost, sourcePort, destinationPort] = parts as [string, string, string, string, string, string];
  const ipFamily = family === 'TCP4' ? 4 : family === 'TCP6' ? 6 : 0;
  if (ipFamily === 0) throw new ProxyProtocolError(`PROXY v1 header with an unknown protocol ${JSON.stringify(family)}`);
  const check = (host: string): string => {
    if (net.isIP(host) !== ipFamily) throw new ProxyProtocolError(`PROXY v1 header with an invalid IPv${ipFamily} address ${JSON.stringify(host)}`);
    return host;
  };
  return {
    header: {
      version: 1,
      command: 'PROXY',
      protocol: ipFamily === 4 ? 'tcp4' : 'tcp6',
      source: inet(check(sourceHost), v1Port(sourcePort), ipFamily),
      destination: inet(check(destinationHost), v1Port(destinationPort), ipFamily),
      tlvs: NO_TLVS,
    },
    length,
  };
}

function v1Port(text: string): number {
  if (!/^(0|[1-9]\d{0,4})$/.test(text) || Number(text) > 65535) throw new ProxyProtocolError(`PROXY v1 header with an invalid port ${JSON.stringify(text)}`);
  return Number(text);
}

function inet(host: string, port: number, family: 4 | 6): InetAddress {
  return { host, port, family: family === 4 ? 'IPv4' : 'IPv6' };
}

function parseV2(data: Buffer): { header: ProxyInfo; length: number } | undefined {
  const prefix = Math.min(data.length, V2_SIGNATURE.length);
  if (!data.subarray(0, prefix).equals(V2_SIGNATURE.subarray(0, prefix))) {
    throw new ProxyProtocolError('The connection did not start with a PROXY protocol header');
  }
  if (data.length < 16) return undefined;
  const versionCommand = data[12]!;
  if (versionCommand >> 4 !== 2) throw new ProxyProtocolError(`PROXY header of unknown version ${versionCommand >> 4}`);
  const commandCode = versionCommand & 0x0f;
  if (commandCode > 1) throw new ProxyProtocolError(`PROXY v2 header with an unknown command ${commandCode}`);
  const length = 16 + data.readUInt16BE(14);
  if (length > PROXY_V2_MAX) throw new ProxyProtocolError(`PROXY v2 header of ${length} bytes, more than the ${PROXY_V2_MAX} accepted`);
  if (data.length < length) return undefined;
  const header = data.subarray(0, length);
  const familyProtocol = data[13]!;
  const family = familyProtocol >> 4;
  const transport = familyProtocol & 0x0f;
  if (family > 3 || transport > 2) throw new ProxyProtocolError(`PROXY v2 header with an unknown address family 0x${familyProtocol.toString(16)}`);
  const addressLength = [0, 12, 36, 216][family]!;
  if (length - 16 < addressLength) throw new ProxyProtocolError('PROXY v2 header too short for its addresses');
  const command = commandCode === 0 ? 'LOCAL' : 'PROXY';
  let source: InetAddress | UnixAddress | null = null;
  let destination: InetAddress | UnixAddress | null = null;
  let protocol: ProxyInfo['protocol'] = 'unknown';
  if (family !== 0 && transport !== 0) {
    const stream = transport === 1;
    if (family === 1) {
      protocol = stream ? 'tcp4' : 'udp4';
      source = inet(ipv4(header, 16), header.readUInt16BE(24), 4);
      destination = inet(ipv4(header, 20), header.readUInt16BE(26), 4);
    } else if (family === 2) {
      protocol = stream ? 'tcp6' : 'udp6';
      source = inet(ipv6(header, 16), header.readUInt16BE(48), 6);
      destination = inet(ipv6(header, 32), header.readUInt16BE(50), 6);
    } else {
      protocol = stream ? 'unix' : 'unix-dgram';
      source = { path: unixPath(header, 16) };
      destination = { path: unixPath(header, 124) };
    }
  }
  const tlvs = parseTlvs(header, 16 + addressLength);
  // LOCAL: the balancer's own connection; what it says about addresses is not a client.
  if (command === 'LOCAL') {
    source = null;
    destination = null;
  }
  return { header: { version: 2, command, protocol, source, destination, tlvs }, length };
}

function ipv4(data: Buffer, offset: number): string {
  return `${data[offset]}.${data[offset + 1]}.${data[offset + 2]}.${data[offset + 3]}`;
}

function ipv6(data: Buffer, offset: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(data.readUInt16BE(offset + i).toString(16));
  // The canonical text form (zeros compressed), as Node reports addresses.
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

function unixPath(data: Buffer, offset: number): string | null {
  const field = data.subarray(offset, offset + 108);
  const end = field.indexOf(0);
  const path = field.toString('utf8', 0, end === -1 ? 108 : end);
  return path.length === 0 ? null : path;
}

const TLV_ALPN = 0x01;
const TLV_AUTHORITY = 0x02;
const TLV_CRC32C = 0x03;
const TLV_UNIQUE_ID = 0x05;
const TLV_SSL = 0x20;
const TLV_NETNS = 0x30;
const SSL_VERSION = 0x21;
const SSL_CN = 0x22;
const SSL_CIPHER = 0x23;
const SSL_SIG_ALG = 0x24;
const SSL_KEY_ALG = 0x25;

function parseTlvs(header: Buffer, start: number): ProxyTlvs {
  const raw = tlvList(header, start, header.length, 'TLV');
  const result: { -readonly [K in keyof ProxyTlvs]: ProxyTlvs[K] } = { crc32c: false, raw };
  for (const { type, value } of raw) {
    switch (type) {
      case TLV_ALPN:
        result.alpn = value.toString('latin1');
        break;
      case TLV_AUTHORITY:
        result.authority = value.toString('utf8');
        break;
      case TLV_UNIQUE_ID:
        if (value.length > 128) throw new ProxyProtocolError(`PROXY v2 unique ID of ${value.length} bytes, more than 128`);
        result.uniqueId = Buffer.from(value);
        break;
      case TLV_NETNS:
        result.netns = value.toString('latin1');
        break;
      case TLV_SSL:
        result.ssl = parseSsl(value);
        break;
      case TLV_CRC32C: {
        if (value.length !== 4) throw new ProxyProtocolError('PROXY v2 CRC32C TLV that is not 4 bytes long');
        const expected = value.readUInt32BE(0);
        // The checksum covers the whole header with its own value zeroed.
        const copy = Buffer.from(header);
        const at = value.byteOffset - header.byteOffset;
        copy.fill(0, at, at + 4);
        if (crc32c(copy) !== expected) throw new ProxyProtocolError('PROXY v2 header whose CRC32C checksum does not match');
        result.crc32c = true;
        break;
      }
      default:
        break;
    }
  }
  return result;
}

function tlvList(data: Buffer, start: number, end: number, what: string): Array<{ type: number; value: Buffer }> {
  const list: Array<{ type: number; value: Buffer }> = [];
  let offset = start;
  while (offset < end) {
    if (end - offset < 3) throw new ProxyProtocolError(`PROXY v2 ${what} cut short`);
    const type = data[offset]!;
    const length = data.readUInt16BE(offset + 1);
    if (offset + 3 + length > end) throw new ProxyProtocolError(`PROXY v2 ${what} of type 0x${type.toString(16)} longer than the header`);
    list.push({ type, value: data.subarray(offset + 3, offset + 3 + length) });
    offset += 3 + length;
  }
  return list;
}

function parseSsl(value: Buffer): ProxySsl {
  if (value.length < 5) throw new ProxyProtocolError('PROXY v2 SSL TLV shorter than 5 bytes');
  const client = value[0]!;
  const verify = value.readUInt32BE(1);
  const ssl: { -readonly [K in keyof ProxySsl]: ProxySsl[K] } = {
    tls: (client & 0x01) !== 0,
    certificateInConnection: (client & 0x02) !== 0,
    certificateInSession: (client & 0x04) !== 0,
    verified: verify === 0,
  };
  for (const { type, value: sub } of tlvList(value, 5, value.length, 'SSL sub-TLV')) {
    const text = sub.toString('utf8');
    if (type === SSL_VERSION) ssl.version = text;
    else if (type === SSL_CN) ssl.cn = text;
    else if (type === SSL_CIPHER) ssl.cipher = text;
    else if (type === SSL_SIG_ALG) ssl.sigAlg = text;
    else if (type === SSL_KEY_ALG) ssl.keyAlg = text;
  }
  return ssl;
}

/** CRC32C (Castagnoli), as the PROXY v2 checksum TLV uses. */
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * The CRC32C (Castagnoli) checksum of `data`.
 *
 * @example
 * ```ts
 * crc32c(Buffer.from('123456789')); // 0xe3069283
 * ```
 */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
