/** Moved (domainConfig to test/helpers/gateway.ts); this re-export stays only for bench/soak.ts (outside test/) until it imports from there. */
export { domainConfig } from '../../helpers/gateway.js';
