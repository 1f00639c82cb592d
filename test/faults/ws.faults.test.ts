import { createWsAdapter } from '../../src/adapters/ws.js';
import { describeFaultMatrix } from './matrix.js';

describeFaultMatrix('ws', () => createWsAdapter({ closeTimeout: 200, handshakeTimeout: 2000 }));
