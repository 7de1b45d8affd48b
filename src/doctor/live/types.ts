/**
 * The live doctor's contract: probe a real endpoint the way a client would (DNS, TCP, TLS, HTTP) and explain what
 * happened. Shared by `doctor --url` and `doctor curl`.
 */
import type { CertInfo } from '../../pki/types.js';
import type { Finding } from '../../report/finding.js';

export interface ProbeInput {
  /** https://host[:port]/path */
  url: string;
  /**
   * Client certificate chain (leaf first) and key, already loaded and checked by the offline doctor; absent = none
   * sent.
   */
  client?: { chainPem: string; keyPem: string } | undefined;
  /** PEM of the CA(s) to verify the server with (curl --cacert); absent = Node's default roots. */
  cacertPem?: string | undefined;
  /** curl --resolve entries `host:port:addr[,addr]`. */
  resolve?: string[] | undefined;
  /** curl --connect-to entries `host:port:connect-host:connect-port`. */
  connectTo?: string[] | undefined;
  /** curl -k: do not fail on the server's certificate (still report it). */
  insecure?: boolean | undefined;
  /** Whole probe budget; default 10 000 ms. */
  timeoutMs?: number | undefined;
  /** Cap on the HTTP response body kept; default 64 KiB. */
  maxBodyBytes?: number | undefined;
}

export type ProbeOutcome =
  | { kind: 'dns-failed'; error: string }
  | { kind: 'tcp-failed'; error: string; code: string }
  | { kind: 'tls-failed'; error: string; code: string; alert: string | null; afterHandshake: boolean }
  | { kind: 'closed-after-handshake' }
  | {
      kind: 'http';
      status: number;
      headers: Record<string, string>;
      body: string;
      truncated: boolean;
      /**
       * Why the body is incomplete: longer than maxBodyBytes, still coming at the deadline, or the connection ended
       * first.
       */
      truncatedBy?: 'cap' | 'timeout' | 'closed' | null;
    }
  | { kind: 'timeout'; stage: 'dns' | 'tcp' | 'tls' | 'http' };

export interface ProbeReport {
  url: string;
  /** Addresses tried, in order. */
  addresses: string[];
  /** The address:port that accepted the TCP connection; null when none did. */
  connectedTo?: string | null;
  /** The --resolve / --connect-to entries that applied to this URL. */
  applied?: string[];
  tls: {
    version: string | null;
    cipher: string | null;
    serverChain: CertInfo[];
    /** Whether the server's chain verifies for the host name against cacert (or the default roots). */
    serverVerified: boolean;
    serverError: string | null;
    /** Did the server send a CertificateRequest? null when it could not be told. */
    clientCertRequested: boolean | null;
    /** Distinguished names from the CertificateRequest (TLS 1.2 only; null when unknown). */
    acceptableCAs: string[] | null;
    /**
     * A client certificate was loaded and the server asked for one (OpenSSL clients send it whatever CA names the
     * server lists). When the request cannot be read (TLS 1.3-only servers) it is assumed sent.
     */
    clientCertSent: boolean;
    /** The TLS server name sent (the URL's host); null for an IP address (no SNI). */
    serverName?: string | null;
    /** What the raw TLS 1.2 probe for the CertificateRequest saw (see cert-request.ts). */
    certificateRequestProbe?: string;
    /** Why the client certificate could not be loaded (it was then not sent). */
    clientCertError?: string | null;
  } | null;
  outcome: ProbeOutcome;
  findings: Finding[];
  timings: Record<string, number>;
}

/** The probe's report as a diagnosis carries it: its findings join the diagnosis's one list. */
export type LiveReport = Omit<ProbeReport, 'findings'>;
