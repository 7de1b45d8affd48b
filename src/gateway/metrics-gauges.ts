/**
 * Gauges read from the state at each scrape: when the truststore loaded and which version, and when certificates
 * expire (every truststore certificate, the server certificate). Every worker thread loads the same config,
 * so each domain's gauges are taken once — from the worker whose truststore loaded last — and never added up.
 */
import type { GatewayState } from './state.js';

export interface DomainGauges {
  domain: string;
  /** Unix seconds. */
  truststoreLoadedAt: number;
  truststoreVersion: string | null;
  truststoreCertificates: number;
  /** Unix seconds; null when the server certificate could not be read (state.ts). */
  serverCertNotAfter: number | null;
  /** Each truststore certificate once (a repeated one by its earliest notAfter), notAfter in Unix seconds. */
  truststore: [subject: string, serial: string, notAfter: number][];
}

const seconds = (iso: string): number => Date.parse(iso) / 1000;

export function domainGauges(state: GatewayState): DomainGauges[] {
  return [...state.domains.values()].map((d) => {
    const byName = new Map<string, [string, string, number]>();
    for (const c of d.verify.truststore.certs) {
      const { subject, serial, notAfter } = c.info;
      const key = `${subject}\u0000${serial}`;
      const t = seconds(notAfter);
      const seen = byName.get(key);
      if (seen === undefined || t < seen[2]) byName.set(key, [subject, serial, t]);
    }
    return {
      domain: d.name,
      truststoreLoadedAt: d.loadedAt.getTime() / 1000,
      truststoreVersion: d.truststoreVersion,
      truststoreCertificates: d.truststoreCertificates,
      serverCertNotAfter: d.serverChain[0] ? seconds(d.serverChain[0].info.notAfter) : null,
      truststore: [...byName.values()],
    };
  });
}

/** Each domain once, as the worker whose truststore loaded last has it; domains in the order first seen. */
export function gaugesOncePerDomain(workers: readonly (readonly DomainGauges[])[]): DomainGauges[] {
  const chosen = new Map<string, DomainGauges>();
  for (const list of workers)
    for (const g of list) {
      const had = chosen.get(g.domain);
      if (had === undefined || g.truststoreLoadedAt > had.truststoreLoadedAt) chosen.set(g.domain, g);
    }
  return [...chosen.values()];
}
