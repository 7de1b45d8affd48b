/** Moved to test/helpers/lifecycle.ts; this re-export stays only for bench/soak.ts (outside test/) until it imports from there. */
export { makeWorld, sleep, type World } from '../helpers/lifecycle.js';
