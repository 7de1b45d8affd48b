/** Moved to test/helpers/gateway.ts; this re-export stays only for bench/soak.ts (outside test/) until it imports from there. */
export { startGateway, type GatewayProcess } from '../../helpers/gateway.js';
