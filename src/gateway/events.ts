/**
 * The gateway's diagnostics channels (node:diagnostics_channel): structured events for metrics, tracing and tests,
 * published only while someone subscribes (no payload is built otherwise). Documented in docs/events.md.
 */
import { channel } from 'node:diagnostics_channel';
import type { Outcome } from './context.js';
import type { DomainLoadError } from './state.js';

/** A client refused for its certificate: at the handshake (noCertificate: handshake) or per request (403). */
export interface DenyEvent {
  /** null when the handshake failed before a domain was known. */
  domain: string | null;
  /** null for a refusal at the handshake (there is no request). */
  requestId: string | null;
  reason: string;
  code: string;
  stage: 'handshake' | 'request';
  remoteAddress: string | null;
  /** The client certificate's SHA-256 fingerprint, when one was presented. */
  fingerprint: string | null;
}

/** A request's completion, whatever answered it. */
export interface RequestEvent {
  requestId: string;
  /** The configured domain, or null when the request named none. */
  domain: string | null;
  method: string;
  path: string;
  status: number;
  outcome: Outcome;
  /** The matched base path ('' maps everything), or null when no route was reached. */
  route: string | null;
  accepted: boolean | null;
  /** From arrival to the end of the answer (the backend's included). */
  durationMs: number;
}

/** A finished reload (signal, admin or retry). */
export interface ReloadEvent {
  ok: boolean;
  /** The state generation now serving. */
  generation: number;
  errors: DomainLoadError[];
  warnings: string[];
  /** Domains serving after the reload. */
  domains: string[];
  durationMs: number;
}

export const denyChannel = channel('mtlsgate:deny');
export const requestChannel = channel('mtlsgate:request');
export const reloadChannel = channel('mtlsgate:reload');
