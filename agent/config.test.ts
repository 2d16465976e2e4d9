import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from './config';

describe('agent configuration', () => {
  it('runs the agent at nice 10 unless told otherwise, from the flag or TANDEM_AGENT_NICE', () => {
    expect(loadAgentConfig({}, {}).nice).toBe(10);
    expect(loadAgentConfig({}, { TANDEM_AGENT_NICE: '0' }).nice).toBe(0);
    expect(loadAgentConfig({ nice: '19' }, { TANDEM_AGENT_NICE: '0' }).nice).toBe(19);
  });

  it.each(['20', '-1', 'low', '2.5'])('refuses nice %s with a clear error', (nice) => {
    expect(() => loadAgentConfig({ nice }, {})).toThrow(/Agent configuration is invalid: .*nice/);
  });
});
