/**
 * The browser adapter on Node, over undici's WebSocket as the command line uses it (an
 * unanswered close ends the socket after closeTimeout; see src/cli/undici-websocket.ts).
 * Its heartbeat is traffic-based: the sequence server writes every few ms.
 */
import { createBrowserAdapter } from '../../src/adapters/browser.js';
import { createUndiciWebSocket } from '../../src/cli/undici-websocket.js';
import { describeFaultMatrix } from './matrix.js';

const WebSocket = createUndiciWebSocket({ closeTimeout: 200 });
describeFaultMatrix('browser (undici)', () => createBrowserAdapter({ WebSocket, closeTimeout: 200 }));
