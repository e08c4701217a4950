/**
 * The bench's per-stage profile, measured in one run (issue 18): no stage is the difference of
 * two separate runs, so none can come out negative.
 *
 * The CPU of a run is taken per thread from /proc/self/task (Linux): the main thread's, and the
 * rest (libuv's pool, where zlib inflates and files are read, and V8's helper threads). The main
 * thread's CPU is then split between stages in proportion to the V8 CPU profiler's samples of the
 * same run, each sample going to the stage of the innermost frame of its call stack that belongs
 * to one (a Buffer copy called from the tar reader is tar; a stream callback called from anywhere
 * is stream plumbing). Every row is a share of a measured non-negative total, and the rows add up
 * to it. Where /proc is missing, the process's CPU is split the same way and the threads are not.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/** A frame's stage, by the frame's script and function; undefined: look at its caller. */
export type Classifier = (frame: { url: string; functionName: string }) => string | undefined;

interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface StageRun<T> {
  result: T;
  /** CPU ms of this process's main thread (or of the whole process, without /proc) */
  mainMs: number;
  /** CPU ms of every other thread of the process; undefined without /proc */
  otherThreadsMs?: number;
  /** the main thread's CPU ms by stage (adds up to mainMs) */
  stages: Map<string, number>;
  /** the profiler's samples taken (idle ones excluded) */
  samples: number;
}

/** CPU ms (user + system) of the main thread and of all the other threads, from /proc; undefined elsewhere. */
export function threadCpu(): { main: number; others: number } | undefined {
  try {
    const tick = 1000 / 100; // USER_HZ is 100 on Linux whatever the kernel's HZ
    let main = 0;
    let others = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      } catch {
        continue; // a thread that ended meanwhile
      }
      // the fields after "(comm)": state is field 3, utime 14 and stime 15 of the whole line
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(f[11]) + Number(f[12])) * tick;
      if (Number(tid) === process.pid) main += ms;
      else others += ms;
    }
    return { main, others };
  } catch {
    return undefined;
  }
}

/** Runs `fn` once under the CPU profiler and splits its CPU by stage (see the module's comment). */
export async function profileStages<T>(fn: () => Promise<T>, classify: Classifier, samplingMicros = 500): Promise<StageRun<T>> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: samplingMicros });
    const t0 = threadCpu();
    const c0 = process.cpuUsage();
    await session.post('Profiler.start');
    const result = await fn();
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
    const c1 = process.cpuUsage(c0);
    const t1 = threadCpu();
    const counts = countByStage(profile, classify);
    const samples = [...counts.values()].reduce((a, b) => a + b, 0);
    const mainMs = t0 && t1 ? t1.main - t0.main : (c1.user + c1.system) / 1000;
    const stages = new Map<string, number>();
    for (const [stage, n] of counts) stages.set(stage, samples > 0 ? (mainMs * n) / samples : 0);
    return { result, mainMs, ...(t0 && t1 ? { otherThreadsMs: t1.others - t0.others } : {}), stages, samples };
  } finally {
    session.disconnect();
  }
}

/** Samples per stage: each non-idle sample goes to the innermost frame of its stack that `classify` places ("other" when none does). */
export function countByStage(profile: CpuProfile, classify: Classifier): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageOf = new Map<number, string | null>();
  const resolve = (id: number): string => {
    const chain: number[] = [];
    let found: string | undefined;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const known = stageOf.get(at);
      if (known !== undefined) {
        found = known ?? undefined;
        break;
      }
      chain.push(at);
      const here = classify(byId.get(at)!.callFrame);
      if (here !== undefined) {
        found = here;
        break;
      }
    }
    // the frames walked over share the answer (the last one walked is the one that gave it)
    for (const at of chain) stageOf.set(at, found ?? null);
    return found ?? 'other';
  };
  const counts = new Map<string, number>();
  for (const id of profile.samples) {
    const name = byId.get(id)?.callFrame.functionName;
    if (name === '(idle)') continue;
    const stage = resolve(id);
    counts.set(stage, (counts.get(stage) ?? 0) + 1);
  }
  return counts;
}
