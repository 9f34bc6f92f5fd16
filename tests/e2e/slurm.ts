/**
 * A real one-node Slurm cluster (Debian's packages: munge, slurmctld, slurmd, slurm-client) for tests.
 *
 * `startSlurm(dir)` writes `dir/slurm.conf` (no systemd, no cgroups, no accounting), makes sure
 * munged runs (starting it if it does not, and then stopping it again with the last cluster of this
 * process), starts slurmctld and slurmd with that configuration and waits until `sinfo` shows the
 * node idle. The daemons run as root (SlurmUser=root), so the tests must too; `slurmAvailable()`
 * says whether that and the binaries are there, and why not.
 *
 * Robustness:
 * - Everything a start writes lives under `dir` (state, spool, logs, pid files, job output) and is
 *   removed first, so a directory left by an earlier, crashed run does not matter. Daemons still
 *   running from such a run (found by their pid files in `dir`, and only if their command line names
 *   `dir/slurm.conf`) are stopped first.
 * - The controller and slurmd listen on free ports picked at start, so a leftover daemon elsewhere
 *   (on 6817/6818) cannot clash.
 * - A start that fails stops whatever it had started and throws with the tail of both logs.
 * - `stop()` may be called any number of times (from `afterAll`, after a failed test): it cancels
 *   the cluster's jobs, stops slurmd and slurmctld (SIGTERM, SIGKILL after 10 s), kills whatever
 *   still runs with the cluster's SLURM_CONF in its environment (slurmstepd, job scripts), stops
 *   munged if this module started it and no other cluster of this process uses it, and waits until
 *   all of them have exited. Daemons are identified by pid and start time, so a reused pid, or a
 *   daemon of a later start in the same `dir`, is never signalled.
 * - If the process exits without `stop()` (a crashed worker), an 'exit' hook SIGKILLs the daemons
 *   and their jobs. Only SIGKILL of the process itself leaves them running; the next start in the
 *   same `dir` then stops them.
 * - The daemons run in the foreground as children of this process, so Node reaps them: pid 1 on
 *   these machines reaps orphans only lazily, and self-daemonizing ones linger as zombies a while.
 *
 * Accounting is off: `sacct` does not work, job states come from `scontrol show job` while the
 * controller still knows the job (MinJobAge below).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether Slurm can be started here; `why` says precisely what is missing. */
export type SlurmAvailability = { ok: true } | { ok: false; why: string };

/** One job record as `scontrol show job` describes it (one per array task once tasks are split off). */
export interface SlurmJobInfo {
  /** e.g. "12" (for an array task its own id, e.g. "13"). */
  jobId: string;
  /** The array's id for an array task or a still-pending array record, else undefined. */
  arrayJobId?: string;
  /** "0", "1", ..., or a range like "0-2" for the part of an array not yet started. */
  arrayTaskId?: string;
  /** PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT, ... */
  state: string;
  /** e.g. None, Dependency, DependencyNeverSatisfied, NonZeroExitCode. */
  reason: string;
  /** "exit:signal", e.g. "0:0" or "1:0". */
  exitCode: string;
  /** e.g. "afterok:12_*(failed)", or "(null)". */
  dependency: string;
}

export interface SlurmCluster {
  /** The directory given to startSlurm. */
  dir: string;
  /** `dir/slurm.conf`. */
  confPath: string;
  /** Working directory of sbatch (where Slurm writes slurm-<id>.out unless --output/--chdir say otherwise). */
  jobsDir: string;
  /** The node's name (`hostname -s`). */
  nodeName: string;
  /** The environment to run Slurm's commands with: SLURM_CONF set, any inherited SLURM_/SBATCH_ variable removed. */
  env: NodeJS.ProcessEnv;
  /** Seconds the start took (munged, both daemons, until the node was idle). */
  startSeconds: number;
  /** `sbatch --parsable <args>` with `script` on stdin (no file is written); the job id. Throws with stderr on failure. */
  sbatch(args: string[], script: string): string;
  /**
   * Polls `squeue` until none of the jobs (an array's id covers all its tasks; "12_1" names one
   * task) is pending, running or completing. Throws on timeout with what is still queued, or at once
   * if slurmctld has died.
   */
  waitForJobs(ids: string[], timeoutMs: number): Promise<void>;
  /** Every record Slurm has for `id` (an array id gives one per task); [] once Slurm has forgotten it. */
  jobStates(id: string): SlurmJobInfo[];
  /** The record of one job or one array task ("12" or "12_1"); undefined if Slurm does not know it. */
  jobState(id: string): SlurmJobInfo | undefined;
  /** `scancel` these jobs (ids or array ids). Throws with stderr on failure. */
  scancel(ids: string[]): void;
  /** Any Slurm client command (squeue, sinfo, scontrol, ...) with this cluster's env; never throws. */
  run(command: string, args: string[]): { status: number | null; stdout: string; stderr: string };
  /** The last lines of slurmctld's and slurmd's logs, for error messages. */
  logTail(lines?: number): string;
  /** The daemons' pids as started (munged only if this cluster's start launched it). */
  pids: { slurmctld: number; slurmd: number; munged?: number };
  /** Cancels the jobs, stops slurmd, slurmctld and munged (if this module started it) and waits until they have exited. Idempotent. */
  stop(): Promise<void>;
}

const CLIENTS = ['sbatch', 'squeue', 'sinfo', 'scontrol', 'scancel'];
const DAEMONS = ['munged', 'munge', 'unmunge', 'slurmctld', 'slurmd'];
const MUNGE_KEY = '/etc/munge/munge.key';
const MUNGE_RUN_DIR = '/run/munge';
const MUNGE_PID_FILE = '/run/munge/munged.pid';
const START_TIMEOUT_MS = 30_000;
/** A Unix socket path (slurmd's step sockets live in the spool dir) has at most 107 bytes. */
const MAX_SPOOL_PATH = 70;
const TERMINAL_STATES = new Set([
  'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE', 'OUT_OF_MEMORY', 'REVOKED',
]);

function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Absolute paths of the programs, resolved once (sbin may be missing from PATH). */
function binaries(): { bin: Record<string, string>; missing: string[] } {
  const bin: Record<string, string> = {};
  const missing: string[] = [];
  for (const n of [...DAEMONS, ...CLIENTS]) {
    const p = which(n);
    if (p) bin[n] = p;
    else missing.push(n);
  }
  return { bin, missing };
}

function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Buffer; cwd?: string; timeoutMs?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(file, args, { encoding: 'utf8', env: opts.env ?? process.env, input: opts.input, cwd: opts.cwd, timeout: opts.timeoutMs ?? 30_000 });
}

function mungeWorks(bin: Record<string, string>): boolean {
  const cred = spawnSync(bin.munge, ['-n'], { timeout: 5_000 });
  if (cred.status !== 0) return false;
  return spawnSync(bin.unmunge, [], { input: cred.stdout, timeout: 5_000 }).status === 0;
}

export function slurmAvailable(): SlurmAvailability {
  if (process.platform !== 'linux') return { ok: false, why: `Slurm's daemons need Linux; this is ${process.platform}` };
  const { bin, missing } = binaries();
  if (missing.length)
    return {
      ok: false,
      why: `missing program(s) ${missing.join(', ')} (not on PATH, /usr/sbin or /sbin): install Debian's munge slurmctld slurmd slurm-client (.ci/setup.sh does)`,
    };
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) {
    const sudo = which('sudo') && spawnSync('sudo', ['-n', 'true'], { timeout: 5_000 }).status === 0;
    return {
      ok: false,
      why: `the harness runs munged, slurmctld and slurmd as root (SlurmUser=root; munged reads ${MUNGE_KEY}), but this process runs as uid ${uid}${sudo ? ' (sudo works here: run the tests with sudo -E)' : ''}`,
    };
  }
  if (!mungeWorks(bin)) {
    if (!existsSync(MUNGE_KEY)) return { ok: false, why: `munged is not running and ${MUNGE_KEY} does not exist (reinstall the munge package)` };
  }
  return { ok: true };
}

// ---- processes -------------------------------------------------------------------------------

/** A process as identified at start: pid and its start time (so a reused pid is never mistaken for it). */
interface Proc {
  name: string;
  pid: number;
  startTime: string;
}

/** The start time (field 22 of /proc/<pid>/stat) and state of a live, non-zombie process; undefined otherwise. */
function procStat(pid: number): { startTime: string; state: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 on
    const state = rest[0];
    if (state === 'Z' || state === 'X' || state === 'x') return undefined;
    return { startTime: rest[19], state };
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

function isAlive(p: Proc): boolean {
  const s = procStat(p.pid);
  return s !== undefined && s.startTime === p.startTime;
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The process named in a pid file, if it is alive and its command line contains `mustContain`. */
function procFromPidFile(file: string, name: string, mustContain: string): Proc | undefined {
  const pid = readPid(file);
  if (pid === undefined) return undefined;
  const s = procStat(pid);
  if (!s || !cmdline(pid).includes(mustContain)) return undefined;
  return { name, pid, startTime: s.startTime };
}

async function waitFor<T>(what: () => T | undefined | false, timeoutMs: number, everyMs = 100): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = what();
    if (v !== undefined && v !== false) return v;
    if (Date.now() >= end) return undefined;
    await sleep(everyMs);
  }
}

function signal(p: Proc, sig: NodeJS.Signals): void {
  if (!isAlive(p)) return;
  try {
    process.kill(p.pid, sig);
  } catch {
    // gone meanwhile
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL and wait again; throws if it still lives. */
async function terminate(p: Proc, graceMs = 10_000): Promise<void> {
  if (!isAlive(p)) return;
  signal(p, 'SIGTERM');
  if (await waitFor(() => !isAlive(p), graceMs, 50)) return;
  signal(p, 'SIGKILL');
  if (await waitFor(() => !isAlive(p), 5_000, 50)) return;
  throw new Error(`${p.name} (pid ${p.pid}) did not exit after SIGTERM and SIGKILL`);
}

/**
 * Starts a daemon in the foreground (-D / --foreground) as a detached child of this process (its own
 * session), so that Node reaps it when it exits. stderr goes to `errFile`. `ready` waits until the
 * daemon's pid file names this very process.
 */
function spawnDaemon(name: string, file: string, args: string[], env: NodeJS.ProcessEnv, errFile: string) {
  const err = openSync(errFile, 'a');
  const child = spawn(file, args, { env, detached: true, stdio: ['ignore', 'ignore', err] });
  closeSync(err);
  child.unref();
  let exit: string | undefined;
  let spawnError: Error | undefined;
  child.on('error', (e) => (spawnError = e));
  child.on('exit', (code, sig) => (exit = sig ? `was killed by ${sig}` : `exited with code ${code}`));
  const exited = () => exit ?? (spawnError ? `could not be started: ${spawnError.message}` : undefined);
  const ready = async (pidFile: string, what: string, timeoutMs = 10_000): Promise<Proc> => {
    const p = await waitFor(
      () => {
        if (exited()) throw new Error(`${name} ${args.join(' ')} ${exited()}; its stderr:\n${tail(errFile, 20)}`);
        const pid = readPid(pidFile);
        const s = pid !== undefined && pid === child.pid ? procStat(pid) : undefined;
        return s && { name: what, pid: pid!, startTime: s.startTime };
      },
      timeoutMs,
      50,
    );
    if (!p) {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      throw new Error(`${name} (pid ${child.pid}) did not write its pid to ${pidFile} within ${timeoutMs / 1000} s`);
    }
    return p;
  };
  return { ready, exited };
}

// ---- munged, shared by the clusters of this process ---------------------------------------------

let mungedStartedHere: Proc | undefined;
let mungeUsers = 0;

/** Makes sure munged answers; starts it if not (its stderr into `errFile`). Returns the process if this call started it. */
async function acquireMunge(bin: Record<string, string>, errFile: string): Promise<Proc | undefined> {
  mungeUsers++;
  if (mungeWorks(bin)) return undefined;
  // Debian's unit creates /run/munge (RuntimeDirectory); without systemd nobody does, and munged refuses to start.
  mkdirSync(MUNGE_RUN_DIR, { recursive: true, mode: 0o755 });
  run('chown', ['munge:munge', MUNGE_RUN_DIR]);
  const d = spawnDaemon('munged', bin.munged, ['--foreground', '--force'], process.env, errFile);
  const p = await d.ready(MUNGE_PID_FILE, 'munged');
  mungedStartedHere = p;
  if (!(await waitFor(() => !d.exited() && mungeWorks(bin), 10_000, 100)))
    throw new Error(`munged started but \`munge -n | unmunge\` still fails after 10 s${d.exited() ? ` (munged ${d.exited()})` : ''}`);
  return p;
}

async function releaseMunge(): Promise<void> {
  mungeUsers = Math.max(0, mungeUsers - 1);
  if (mungeUsers === 0 && mungedStartedHere) {
    const p = mungedStartedHere;
    mungedStartedHere = undefined;
    await terminate(p);
  }
}

// ---- a cluster's other processes, and the last resort when a process ends without stop() -----------

/**
 * Processes of a cluster other than its daemons: slurmstepd and the job scripts it runs outlive a
 * stopped slurmd. They all carry the cluster's `SLURM_CONF=<dir>/slurm.conf` in their environment
 * (slurmd has it and sbatch passes it on), which names this one cluster.
 */
function processesOf(confPath: string): number[] {
  const needle = `SLURM_CONF=${confPath}`;
  const pids: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/environ`, 'utf8').split('\0').includes(needle) && procStat(Number(e))) pids.push(Number(e));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** Kills whatever still runs with this cluster's SLURM_CONF, and waits until it is gone. */
async function sweep(confPath: string): Promise<void> {
  killAll(processesOf(confPath));
  const left = await waitFor(() => processesOf(confPath).length === 0, 5_000, 50);
  if (!left) throw new Error(`processes with SLURM_CONF=${confPath} still run after SIGKILL: ${processesOf(confPath).join(', ')}`);
}

const live = new Map<Proc[], string>(); // a started cluster's daemons -> its conf path
// The last resort, when a process ends without stop(): no time to shut down gracefully (slurmctld may
// take seconds), and nothing of the cluster is needed again (a start wipes its state).
process.once('exit', () => {
  for (const [procs, confPath] of live) {
    for (const p of procs) signal(p, 'SIGKILL');
    killAll(processesOf(confPath)); // slurmscriptd, slurmstepd, running jobs
  }
  if (mungedStartedHere) signal(mungedStartedHere, 'SIGTERM');
});

// ---- the cluster ---------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => ok(port));
    });
  });
}

function tail(file: string, lines: number): string {
  try {
    const all = readFileSync(file, 'utf8').trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  } catch (e) {
    return `(no log: ${(e as Error).message})`;
  }
}

function slurmEnv(confPath: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(SLURM_|SBATCH_|SALLOC_|SRUN_|SQUEUE_|SINFO_|SCANCEL_)/.test(k)) env[k] = v;
  env.SLURM_CONF = confPath;
  return env;
}

function parseJobs(text: string): SlurmJobInfo[] {
  const field = (line: string, key: string) => new RegExp(`(?:^|\\s)${key}=(\\S*)`).exec(line)?.[1];
  return text
    .split('\n')
    .filter((l) => l.startsWith('JobId='))
    .map((l) => {
      const arrayJobId = field(l, 'ArrayJobId');
      return {
        jobId: field(l, 'JobId') ?? '',
        arrayJobId,
        arrayTaskId: arrayJobId === undefined ? undefined : field(l, 'ArrayTaskId'),
        state: field(l, 'JobState') ?? '',
        reason: field(l, 'Reason') ?? '',
        exitCode: field(l, 'ExitCode') ?? '',
        dependency: field(l, 'Dependency') ?? '',
      };
    });
}

export async function startSlurm(dir: string): Promise<SlurmCluster> {
  const started = performance.now();
  const avail = slurmAvailable();
  if (!avail.ok) throw new Error(`Slurm cannot start here: ${avail.why}`);
  const { bin } = binaries();
  dir = resolve(dir);
  const confPath = join(dir, 'slurm.conf');
  const paths = {
    state: join(dir, 'state'),
    spool: join(dir, 'spool'),
    log: join(dir, 'log'),
    jobs: join(dir, 'jobs'),
    ctldPid: join(dir, 'slurmctld.pid'),
    slurmdPid: join(dir, 'slurmd.pid'),
    ctldLog: join(dir, 'log', 'slurmctld.log'),
    slurmdLog: join(dir, 'log', 'slurmd.log'),
  };
  if (paths.spool.length > MAX_SPOOL_PATH)
    throw new Error(`startSlurm: ${paths.spool} is ${paths.spool.length} characters; slurmd puts Unix sockets there, so keep the directory under ${MAX_SPOOL_PATH - 6} characters (e.g. mkdtemp in /tmp)`);

  // Daemons of an earlier run in this directory that nobody stopped (their command line names our conf).
  for (const [file, name] of [[paths.slurmdPid, 'slurmd'], [paths.ctldPid, 'slurmctld']] as const) {
    const stale = procFromPidFile(file, `stale ${name}`, confPath);
    if (stale) await terminate(stale);
  }
  await sweep(confPath); // and its jobs
  // A cluster of this process in the same directory is replaced: its stop() must not touch the new one.
  for (const [procs, conf] of live) if (conf === confPath) live.delete(procs);
  for (const p of [paths.state, paths.spool, paths.log, paths.jobs, paths.ctldPid, paths.slurmdPid, confPath]) rmSync(p, { recursive: true, force: true });
  for (const p of [paths.state, paths.spool, paths.log, paths.jobs]) mkdirSync(p, { recursive: true });

  const host = run('hostname', ['-s']);
  const nodeName = host.stdout.trim();
  if (host.status !== 0 || !nodeName) throw new Error(`startSlurm: \`hostname -s\` failed: ${host.stderr}`);
  const cpuCount = Math.max(1, cpus().length);
  // slurmd measures the memory itself; a configured RealMemory above that would drain the node.
  const realMemoryMb = Math.max(100, Math.floor((totalmem() / 2 ** 20) * 0.9));
  const ctldPort = await freePort();
  let slurmdPort = await freePort();
  while (slurmdPort === ctldPort) slurmdPort = await freePort();
  const conf = [
    'ClusterName=harness',
    `SlurmctldHost=${nodeName}(127.0.0.1)`,
    `SlurmctldPort=${ctldPort}`,
    `SlurmdPort=${slurmdPort}`,
    'SlurmUser=root',
    'SlurmdUser=root',
    'AuthType=auth/munge',
    'CredType=cred/munge',
    `StateSaveLocation=${paths.state}`,
    `SlurmdSpoolDir=${paths.spool}`,
    `SlurmctldPidFile=${paths.ctldPid}`,
    `SlurmdPidFile=${paths.slurmdPid}`,
    `SlurmctldLogFile=${paths.ctldLog}`,
    `SlurmdLogFile=${paths.slurmdLog}`,
    'SlurmctldDebug=info',
    'SlurmdDebug=info',
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'JobAcctGatherType=jobacct_gather/none',
    'AccountingStorageType=accounting_storage/none',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core',
    'ReturnToService=2',
    'MpiDefault=none',
    'MailProg=/bin/true', // the default, /usr/bin/mail, is not installed: slurmctld logs an error otherwise
    // Finished jobs stay known to `scontrol show job` (there is no accounting) for this many seconds.
    'MinJobAge=3600',
    // Batch jobs are scheduled at most every batch_sched_delay seconds (3 by default): start them at once.
    'SchedulerParameters=batch_sched_delay=0',
    `NodeName=${nodeName} NodeAddr=127.0.0.1 CPUs=${cpuCount} RealMemory=${realMemoryMb} State=UNKNOWN`,
    `PartitionName=main Nodes=${nodeName} Default=YES MaxTime=INFINITE State=UP`,
    '',
  ].join('\n');
  writeFileSync(confPath, conf);
  const env = slurmEnv(confPath);
  const logTail = (lines = 30) =>
    `--- ${paths.ctldLog} (last ${lines} lines) ---\n${tail(paths.ctldLog, lines)}\n--- ${paths.slurmdLog} (last ${lines} lines) ---\n${tail(paths.slurmdLog, lines)}`;

  const procs: Proc[] = [];
  live.set(procs, confPath);
  let munged: Proc | undefined;
  let mungeHeld = false;
  let stopping: Promise<void> | undefined;

  const client = (command: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}) => {
    const r = run(bin[command] ?? command, args, { env, cwd: paths.jobs, input: opts.input, timeoutMs: opts.timeoutMs ?? 20_000 });
    return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
  };
  const ctld = () => procs.find((p) => p.name === 'slurmctld');

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const errors: string[] = [];
      const c = ctld();
      if (c && isAlive(c)) {
        // Cancel everything first, so slurmd does not leave slurmstepd and job scripts running.
        const ids = client('squeue', ['-h', '-o', '%A']).stdout.split('\n').map((s) => s.trim()).filter(Boolean);
        if (ids.length) {
          client('scancel', ids);
          await waitFor(() => client('squeue', ['-h', '-o', '%A']).stdout.trim() === '', 15_000, 200);
        }
      }
      for (const name of ['slurmd', 'slurmctld']) {
        const p = procs.find((q) => q.name === name);
        if (!p) continue;
        try {
          await terminate(p);
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      // A job slurmd left running (scancel failed or timed out); not if a later start in this directory replaced us.
      if (live.has(procs)) {
        try {
          await sweep(confPath);
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      live.delete(procs);
      if (mungeHeld) {
        mungeHeld = false;
        try {
          await releaseMunge();
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
      if (errors.length) throw new Error(`stopping Slurm in ${dir}: ${errors.join('; ')}`);
    })());

  const startDaemon = async (name: 'slurmctld' | 'slurmd', args: string[], pidFile: string) => {
    procs.push(await spawnDaemon(name, bin[name], ['-D', ...args], env, join(paths.log, `${name}.stderr`)).ready(pidFile, name));
  };

  try {
    mungeHeld = true;
    munged = await acquireMunge(bin, join(paths.log, 'munged.stderr'));
    await startDaemon('slurmctld', ['-c', '-f', confPath], paths.ctldPid);
    await startDaemon('slurmd', ['-f', confPath], paths.slurmdPid);
    let last = '';
    const idle = await waitFor(
      () => {
        for (const p of procs) if (!isAlive(p)) throw new Error(`${p.name} (pid ${p.pid}) exited during start`);
        const r = client('sinfo', ['-h', '-N', '-n', nodeName, '-o', '%T'], { timeoutMs: 5_000 });
        last = r.status === 0 ? `node state "${r.stdout.trim()}"` : `sinfo failed: ${r.stderr.trim()}`;
        return r.status === 0 && r.stdout.trim() === 'idle';
      },
      START_TIMEOUT_MS,
      200,
    );
    if (!idle) throw new Error(`node ${nodeName} not idle after ${START_TIMEOUT_MS / 1000} s (${last})`);
  } catch (e) {
    const message = `startSlurm(${dir}) failed: ${(e as Error).message}\n${logTail(40)}`;
    try {
      await stop();
    } catch (s) {
      throw new Error(`${message}\n(and stopping what had started failed too: ${(s as Error).message})`);
    }
    throw new Error(message);
  }

  const jobStates = (id: string): SlurmJobInfo[] => {
    const r = client('scontrol', ['show', 'job', '-o', id]);
    if (r.status !== 0) {
      if (/Invalid job id/i.test(r.stderr)) return [];
      throw new Error(`scontrol show job ${id} failed (exit ${r.status}): ${r.stderr.trim()}`);
    }
    return parseJobs(r.stdout);
  };

  return {
    dir,
    confPath,
    jobsDir: paths.jobs,
    nodeName,
    env,
    startSeconds: (performance.now() - started) / 1000,
    pids: { slurmctld: ctld()!.pid, slurmd: procs.find((p) => p.name === 'slurmd')!.pid, munged: munged?.pid },
    sbatch(args, script) {
      const r = client('sbatch', ['--parsable', ...args], { input: script });
      const id = r.stdout.trim().split(';')[0];
      if (r.status !== 0 || !/^\d+$/.test(id)) throw new Error(`sbatch --parsable ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.trim() || r.stdout.trim()}`);
      return id;
    },
    async waitForJobs(ids, timeoutMs) {
      const wanted = new Set(ids);
      let queued: string[] = [];
      let lastError = '';
      const done = await waitFor(
        () => {
          const c = ctld();
          if (!c || !isAlive(c)) throw new Error(`waitForJobs: slurmctld is not running\n${logTail()}`);
          // -r: one line per array task; -t all, because a job may be in any state, and we filter here.
          const r = client('squeue', ['-h', '-r', '-t', 'all', '-o', '%A|%F|%K|%T|%r']);
          if (r.status !== 0) {
            lastError = r.stderr.trim();
            return false;
          }
          const rows = r.stdout
            .split('\n')
            .filter(Boolean)
            .map((l) => l.split('|'));
          // With -t all (and MinJobAge) finished jobs are listed too: an id matching nothing was never submitted here.
          const known = new Set(rows.flatMap(([jobId, arrayId]) => [jobId, arrayId]));
          const unknown = ids.filter((id) => !known.has(id.split('_')[0]));
          if (unknown.length) throw new Error(`waitForJobs: Slurm knows no job ${unknown.join(', ')}`);
          queued = rows
            .filter(
              ([jobId, arrayId, task]) =>
                wanted.has(jobId) ||
                wanted.has(arrayId) ||
                // a task, or tasks not started yet ("0-2"), which may include the wanted one
                (/^\d+$/.test(task) ? wanted.has(`${arrayId}_${task}`) : ids.some((id) => id.startsWith(`${arrayId}_`))),
            )
            .filter(([, , , state]) => !TERMINAL_STATES.has(state))
            .map(([jobId, arrayId, task, state, reason]) => `${/^\d+$/.test(task ?? '') ? `${arrayId}_${task}` : jobId} ${state} (${reason})`);
          return queued.length === 0;
        },
        timeoutMs,
        250,
      );
      if (!done)
        throw new Error(`jobs ${ids.join(', ')} still queued after ${timeoutMs} ms: ${queued.join('; ') || `(squeue failed: ${lastError})`}`);
    },
    jobStates,
    jobState(id) {
      const all = jobStates(id);
      const [arrayId, task] = id.split('_');
      return all.find((j) => (task === undefined ? j.jobId === id : j.arrayJobId === arrayId && j.arrayTaskId === task)) ?? (all.length === 1 ? all[0] : undefined);
    },
    scancel(ids) {
      const r = client('scancel', ids);
      if (r.status !== 0) throw new Error(`scancel ${ids.join(' ')} failed (exit ${r.status}): ${r.stderr.trim()}`);
    },
    run: (command, args) => client(command, args),
    logTail,
    stop,
  };
}
