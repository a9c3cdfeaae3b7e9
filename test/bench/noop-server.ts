// The cheapest possible answer to a job PUT: read the body, parse it, answer 201 with JSON.
// No validation, no replication, no disk. api-bench measures it with the same load generator
// to show the ceiling any one-process HTTP/1.1 server reaches on this machine.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: req.url, ...body }));
  });
});
server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port));
process.on('disconnect', () => process.exit(0));
