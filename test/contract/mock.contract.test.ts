import { afterEach, beforeEach, describe, vi } from 'vitest';
import { describeAdapterContract } from '../../src/testing/contract.js';
import { createMockPair } from '../../src/testing/mock-peer.js';

describeAdapterContract({ name: 'mock', ...createMockPair() });

// The mock needs no clock when nothing is delayed: the whole contract holds under a fake clock
// that nobody advances.
describe('under vitest fake timers', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  describeAdapterContract({ name: 'mock (fake timers)', ...createMockPair() });
});
