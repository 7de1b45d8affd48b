/**
 * Does the server ask for a client certificate, and from which CAs? Node has no API for the CertificateRequest
 * (nodejs/node#40008), so this sends its own TLS 1.2 ClientHello over a plain TCP socket and reads the server's
 * plaintext flight up to ServerHelloDone. TLS 1.3 encrypts the CertificateRequest, so a 1.3-only server gives
 * `requested: null`. Bounded (bytes, time), never throws: every failure is a `result` value.
 */
import { randomBytes } from 'node:crypto';
import { isIP, Socket } from 'node:net';
import { formatName } from '../../pki/oids.js';
import { readTlv } from '../../pki/der.js';
import { alertName } from './alerts.js';

export interface CertRequestProbe {
  result:
    | 'certificate-request'
    | 'no-certificate-request'
    | 'tls13-only'
    | 'alert'
    | 'not-tls'
    | 'closed'
    | 'timeout'
    | 'error';
  /** The server sent a CertificateRequest (true), finished its flight without one (false), or we cannot tell (null). */
  requested: boolean | null;
  /**
   * certificate_authorities as RFC 4514 strings, in the server's order; null when unknown. An empty list means "any".
   */
  acceptableCAs: string[] | null;
  /** signature_algorithms of the CertificateRequest, as hex code points (0x0403 ...); null when none was read. */
  signatureAlgorithms: string[] | null;
  /** The certificates of the server's Certificate message, as sent (DER), leaf first. */
  serverCertsDer: Buffer[];
  /** Negotiated cipher suite code point (hex), from the ServerHello. */
  cipherSuite: string | null;
  alert: { level: number; description: number; name: string } | null;
  /** What the first bytes look like when they are not TLS: 'http' for a plain-HTTP answer. */
  notTls: 'http' | 'other' | null;
  /** Up to 64 printable characters of a non-TLS answer. */
  preview: string | null;
  /** Bytes the server sent before the probe stopped (0: it never answered the ClientHello). */
  bytesReceived: number;
  error: string | null;
}

export interface CertRequestOptions {
  host: string;
  port: number;
  /** SNI; omitted for IP literals (RFC 6066). */
  servername: string;
  timeoutMs: number;
  /** Cap on bytes read; default 256 KiB (a server flight with a long chain and many CA names fits easily). */
  maxBytes?: number;
}

const HS = {
  serverHello: 2,
  certificate: 11,
  serverKeyExchange: 12,
  certificateRequest: 13,
  serverHelloDone: 14,
} as const;

export function probeCertificateRequest(o: CertRequestOptions): Promise<CertRequestProbe> {
  const maxBytes = o.maxBytes ?? 256 * 1024;
  return new Promise((resolve) => {
    let done = false;
    let received = Buffer.alloc(0);
    const socket = new Socket();
    const finish = (r: Partial<CertRequestProbe> & Pick<CertRequestProbe, 'result'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (r.result === 'certificate-request' || r.result === 'no-certificate-request') {
        // Abort politely: a fatal user_canceled alert, so the server logs "alert user cancelled", not a hang-up.
        socket.end(Buffer.from([21, 3, 3, 0, 2, 2, 90]));
        setTimeout(() => socket.destroy(), 1000).unref();
      } else socket.destroy();
      resolve({
        requested: null,
        acceptableCAs: null,
        signatureAlgorithms: null,
        serverCertsDer: [],
        cipherSuite: null,
        alert: null,
        notTls: null,
        preview: null,
        error: null,
        bytesReceived: received.length,
        ...r,
      });
    };
    const timer = setTimeout(
      () =>
        finish({ result: 'timeout', error: `no complete answer to a TLS 1.2 ClientHello within ${o.timeoutMs} ms` }),
      Math.max(1, o.timeoutMs),
    );
    socket.on('error', (e: NodeJS.ErrnoException) =>
      finish({ result: 'error', error: `${e.code ?? 'ERROR'}: ${e.message}` }),
    );
    socket.on('close', () => finish({ ...interpret(received, true), result: 'closed' }));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const r = interpret(received, false);
      if (r !== null && r.result !== 'closed') return finish(r);
      if (received.length >= maxBytes)
        finish({
          result: 'error',
          error: `the server's handshake exceeded ${maxBytes} bytes without a ServerHelloDone`,
        });
    });
    socket.connect({ host: o.host, port: o.port }, () => {
      socket.write(clientHello(o.servername));
    });
  });
}

type Partial2 = Partial<CertRequestProbe> & Pick<CertRequestProbe, 'result'>;

/**
 * What the bytes received so far say; null when more are needed. With `eof`, whatever was read is reported
 * (a 'closed' result, possibly with the alert that preceded the close).
 */
export function interpret(buf: Buffer, eof: boolean): Partial2 | null {
  if (buf.length === 0)
    return eof
      ? { result: 'closed', error: 'the server closed the connection without answering the ClientHello' }
      : null;
  const first = buf[0]!;
  if (first !== 22 && first !== 21) return notTls(buf);
  const hs: Buffer[] = [];
  let pos = 0;
  while (pos + 5 <= buf.length) {
    const type = buf[pos]!;
    const major = buf[pos + 1]!;
    const len = buf.readUInt16BE(pos + 3);
    if ((type !== 22 && type !== 21) || major !== 3 || len > 18432)
      return pos === 0 ? notTls(buf) : { result: 'error', error: `malformed TLS record at byte ${pos}` };
    if (pos + 5 + len > buf.length) break;
    const body = buf.subarray(pos + 5, pos + 5 + len);
    pos += 5 + len;
    if (type === 21) {
      const alert = body.length >= 2 ? { level: body[0]!, description: body[1]!, name: alertName(body[1]!) } : null;
      const partial = parseHandshake(Buffer.concat(hs)).out;
      // protocol_version: the server will not speak TLS 1.2 (a TLS 1.3-only server); its request would be encrypted.
      return {
        ...partial,
        result: alert?.description === 70 ? 'tls13-only' : 'alert',
        alert,
        requested: null,
        acceptableCAs: null,
        error: null,
      };
    }
    hs.push(body);
  }
  const parsed = parseHandshake(Buffer.concat(hs));
  if (parsed.done) return parsed.out;
  if (eof)
    return {
      ...parsed.out,
      result: 'closed',
      requested: parsed.out.requested === true ? true : null,
      error: 'the server closed the connection before finishing its TLS 1.2 handshake flight',
    };
  return null;
}

function notTls(buf: Buffer): Partial2 {
  const text = buf.subarray(0, 64).toString('latin1');
  return {
    result: 'not-tls',
    notTls: /^HTTP\/\d/.test(text) ? 'http' : 'other',
    preview: text.replace(/[^\x20-\x7e]/g, '.'),
    error: null,
  };
}

/** Walks the handshake messages received so far (they may span records, and a record may hold several). */
function parseHandshake(data: Buffer): { done: boolean; out: Partial2 } {
  const out: Partial2 = { result: 'no-certificate-request', requested: false, acceptableCAs: null, serverCertsDer: [] };
  let pos = 0;
  while (pos + 4 <= data.length) {
    const type = data[pos]!;
    const len = data.readUIntBE(pos + 1, 3);
    if (pos + 4 + len > data.length) break;
    const body = data.subarray(pos + 4, pos + 4 + len);
    pos += 4 + len;
    if (type === HS.serverHello && body.length >= 38) {
      const sidLen = body[34]!;
      if (35 + sidLen + 2 <= body.length)
        out.cipherSuite =
          '0x' +
          body
            .readUInt16BE(35 + sidLen)
            .toString(16)
            .padStart(4, '0');
    } else if (type === HS.certificate) {
      out.serverCertsDer = readCertificateList(body);
    } else if (type === HS.certificateRequest) {
      const cr = readCertificateRequest(body);
      if (cr === null)
        return {
          done: true,
          out: { ...out, result: 'error', requested: true, error: 'the CertificateRequest is malformed' },
        };
      Object.assign(out, {
        result: 'certificate-request',
        requested: true,
        acceptableCAs: cr.cas,
        signatureAlgorithms: cr.sigalgs,
      });
    } else if (type === HS.serverHelloDone) {
      return { done: true, out };
    }
  }
  return { done: false, out };
}

function readCertificateList(body: Buffer): Buffer[] {
  const certs: Buffer[] = [];
  if (body.length < 3) return certs;
  const end = Math.min(body.length, 3 + body.readUIntBE(0, 3));
  let p = 3;
  while (p + 3 <= end) {
    const n = body.readUIntBE(p, 3);
    if (p + 3 + n > end) break;
    certs.push(Buffer.from(body.subarray(p + 3, p + 3 + n)));
    p += 3 + n;
  }
  return certs;
}

/**
 * TLS 1.2 CertificateRequest: certificate_types<1..255>, signature_algorithms<2..2^16-2>,
 * certificate_authorities<0..2^16-1>.
 */
export function readCertificateRequest(body: Buffer): { cas: string[]; sigalgs: string[] } | null {
  let p = 0;
  if (body.length < 1) return null;
  p += 1 + body[0]!;
  if (p + 2 > body.length) return null;
  const sigLen = body.readUInt16BE(p);
  p += 2;
  if (p + sigLen > body.length) return null;
  const sigalgs: string[] = [];
  for (let i = 0; i + 1 < sigLen; i += 2)
    sigalgs.push(
      '0x' +
        body
          .readUInt16BE(p + i)
          .toString(16)
          .padStart(4, '0'),
    );
  p += sigLen;
  if (p + 2 > body.length) return null;
  const casLen = body.readUInt16BE(p);
  p += 2;
  const end = p + casLen;
  if (end > body.length) return null;
  const cas: string[] = [];
  while (p + 2 <= end) {
    const n = body.readUInt16BE(p);
    if (p + 2 + n > end) return null;
    const der = Buffer.from(body.subarray(p + 2, p + 2 + n));
    const tlv = readTlv(der, 0);
    cas.push(tlv && tlv.end === der.length ? formatName(der, tlv) : `#${der.toString('hex')}`);
    p += 2 + n;
  }
  return { cas, sigalgs };
}

/** A TLS 1.2 ClientHello without supported_versions, so a server cannot pick 1.3. */
export function clientHello(servername: string): Buffer {
  const suites = [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0x009e, 0x009f, 0x009c, 0x009d];
  const exts: Buffer[] = [];
  if (servername !== '' && isIP(servername) === 0) {
    const name = Buffer.from(servername, 'ascii');
    exts.push(ext(0x0000, vec2(Buffer.concat([Buffer.from([0]), vec2(name)]))));
  }
  exts.push(ext(0x000a, vec2(u16s([0x001d, 0x0017, 0x0018, 0x0019])))); // supported_groups: x25519, P-256, P-384, P-521
  exts.push(ext(0x000b, Buffer.from([1, 0]))); // ec_point_formats: uncompressed
  // signature_algorithms
  exts.push(ext(0x000d, vec2(u16s([0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0807]))));
  exts.push(ext(0x0017, Buffer.alloc(0))); // extended_master_secret
  exts.push(ext(0xff01, Buffer.from([0]))); // renegotiation_info (empty)
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    randomBytes(32),
    Buffer.from([0]), // no session id
    vec2(u16s(suites)),
    Buffer.from([1, 0]), // compression: null
    vec2(Buffer.concat(exts)),
  ]);
  const hs = Buffer.concat([Buffer.from([1]), u24(body.length), body]);
  return Buffer.concat([Buffer.from([22, 3, 1]), u16(hs.length), hs]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u24(n: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntBE(n, 0, 3);
  return b;
}
function u16s(ns: number[]): Buffer {
  return Buffer.concat(ns.map(u16));
}
function vec2(b: Buffer): Buffer {
  return Buffer.concat([u16(b.length), b]);
}
function ext(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), vec2(data)]);
}
