import { describe, expect, it } from 'vitest';
import type { WorkerDesired } from '../../lib/db/workers';
import { createLogger } from '../../lib/log';
import { isSteerAction, STEER_ACTIONS } from '../../lib/workers/steer-worker';
import { IntakeFollower } from '../../workers/intake';

// One worker's own steering (pause, resume, drain) on top of the intake switch for all.

function fakeWorker(desired: WorkerDesired, intakePaused = false) {
  const calls: string[] = [];
  const state = { desired, intakePaused };
  let finishStop: () => void = () => undefined;
  const stopping = { hold: false };
  const follower = new IntakeFollower(
    {
      readPaused: async () => state.intakePaused,
      readDesired: async () => state.desired,
      startWork: async () => void calls.push('start'),
      stopWork: async () => {
        calls.push('stop');
        if (stopping.hold) await new Promise<void>((resolve) => (finishStop = resolve));
        calls.push('stopped');
      },
      recordPaused: async (paused) => void calls.push(paused ? 'record paused' : 'record working'),
      drained: () => void calls.push('drained'),
    },
    createLogger({}, 'silent'),
  );
  return { calls, state, follower, stopping, finishStop: () => finishStop() };
}

describe('IntakeFollower, one worker steered', () => {
  it('pauses for its own pause as for the switch, and works again only when neither holds it', async () => {
    const { calls, state, follower } = fakeWorker('run');
    await follower.sync();
    state.desired = 'paused';
    await follower.sync();
    state.intakePaused = true;
    state.desired = 'run';
    await follower.sync();
    state.intakePaused = false;
    await follower.sync();
    expect(calls).toEqual(['start', 'record working', 'stop', 'stopped', 'record paused', 'start', 'record working']);
  });

  it('does not start at all when paused at boot (a paused worker restarted after a crash)', async () => {
    const { calls, follower } = fakeWorker('paused');
    await follower.sync();
    expect(calls).toEqual(['record paused']);
  });

  it('drains: stops fetching, hands over to shutdown only once what it held has finished, and then does nothing more', async () => {
    const { calls, state, follower, stopping, finishStop } = fakeWorker('run');
    await follower.sync();
    state.desired = 'draining';
    stopping.hold = true;
    const draining = follower.sync();
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual(['start', 'record working', 'stop']);
    finishStop();
    await draining;
    expect(calls).toEqual(['start', 'record working', 'stop', 'stopped', 'drained']);
    // A drain is final: a later resume (the row would refuse one anyway) starts nothing.
    state.desired = 'run';
    await follower.sync();
    expect(calls.at(-1)).toBe('drained');
  });

  it('drains a paused worker at once, and one draining at boot (its predecessor crashed mid-drain) without starting', async () => {
    const paused = fakeWorker('paused');
    await paused.follower.sync();
    paused.state.desired = 'draining';
    await paused.follower.sync();
    expect(paused.calls).toEqual(['record paused', 'drained']);

    const booting = fakeWorker('draining');
    await booting.follower.sync();
    expect(booting.calls).toEqual(['drained']);
  });
});

describe('steer actions', () => {
  it('maps each action to what it asks of the worker, and knows no other', () => {
    expect(STEER_ACTIONS).toEqual({ pause: 'paused', resume: 'run', drain: 'draining' });
    for (const action of ['pause', 'resume', 'drain']) expect(isSteerAction(action)).toBe(true);
    for (const action of ['stop', 'toString', '__proto__', '', undefined]) expect(isSteerAction(action)).toBe(false);
  });
});
