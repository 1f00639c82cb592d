import { createNativeAdapter } from '../../src/adapters/native/index.js';
import { describeFaultMatrix } from './matrix.js';

describeFaultMatrix('native', () => createNativeAdapter({ closeTimeout: 200, handshakeTimeout: 2000 }));
