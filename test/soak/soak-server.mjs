/**
 * The soak's server, in its own process so that the client's memory is measured alone: a `ws`
 * server on 127.0.0.1 (port 0, a listen backlog for a thousand connects at once). stdout:
 * `port N` once listening, then `open` for every connection. stdin: `drop` terminates every
 * connection at once (no close frame), as a crashed or restarted server would.
 */
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { WebSocketServer } from 'ws';

const http = createServer();
const wss = new WebSocketServer({ server: http });
wss.on('connection', (ws) => {
  ws.on('error', () => {});
  process.stdout.write('open\n');
});
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'drop') for (const ws of wss.clients) ws.terminate();
});
http.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
  process.stdout.write(`port ${http.address().port}\n`);
});
