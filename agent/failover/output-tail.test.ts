import { describe, expect, it } from 'vitest';
import { OutputTail } from './output-tail';
import { lastBytes, startStep } from './step-result';

describe('OutputTail', () => {
  it('keeps everything while under the limit', () => {
    const tail = new OutputTail(16);
    tail.push('abc');
    tail.push(Buffer.from('def'));
    expect(tail.toString()).toBe('abcdef');
    expect(tail.dropped).toBe(0);
  });

  it('keeps only the last bytes of a long output, however it was chunked', () => {
    const tail = new OutputTail(10);
    for (let i = 0; i < 100; i++) tail.push(String(i % 10));
    expect(tail.toString()).toBe('0123456789');
    expect(tail.dropped).toBe(90);
  });

  it('drops a multi-byte character cut at the front instead of showing garbage', () => {
    const tail = new OutputTail(5);
    tail.push('xxé1234'); // é is 2 bytes; the last 5 bytes start in its middle
    expect(tail.toString()).toBe('1234');
  });
});

describe('step results', () => {
  it('lastBytes trims to the limit on a character boundary', () => {
    expect(lastBytes('hello', 10)).toBe('hello');
    expect(lastBytes('ab€cd', 4)).toBe('cd'); // € is 3 bytes, cut in the middle
  });

  it('stamps the duration and marks skipped steps as ok', () => {
    let t = 100;
    const timer = startStep('x.y', () => t);
    t = 142.6;
    expect(timer.fail('broke', 'out')).toEqual({ step: 'x.y', ok: false, detail: 'broke', durationMs: 43, output: 'out' });
    expect(timer.skip('nothing')).toEqual({ step: 'x.y', ok: true, skipped: true, detail: 'nothing', durationMs: 43 });
    expect(timer.ok('fine', '')).not.toHaveProperty('output');
  });
});
