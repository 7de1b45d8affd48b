// Fallback backend for machines without nginx (bench/run.mjs says so in its report): node:http answering as
// backend-nginx.conf does. It can limit the keep-alive figures; nginx is the backend the figures are meant for.
import http from 'node:http';

const port = Number(process.argv[2]);
http
  .createServer((req, res) => {
    const h = req.headers;
    const body = `ok dn=[${h['x-client-cert-subject-dn'] ?? ''}] xff=[${h['x-forwarded-for'] ?? ''}] proto=[${h['x-forwarded-proto'] ?? ''}] cert=[${String(h['client-cert'] ?? '').slice(0, 12)}]\n`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  })
  .listen(port, '127.0.0.1');
