// CPU time of this process (process.cpuUsage) and of another one (utime + stime from /proc/<pid>/stat), in
// microseconds, for CPU-per-request figures; the user/system split of each too; and write system calls, for the
// requests each write carries.
import { readFileSync } from 'node:fs';

/** USER_HZ is 100 on Linux (sysconf(_SC_CLK_TCK)); Node has no binding for it. */
const US_PER_TICK = 10_000;

/** User and system CPU microseconds. */
export interface CpuSplit {
  readonly userUs: number;
  readonly systemUs: number;
}

/** user + system CPU microseconds this process has used. */
export function selfCpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** User and system CPU microseconds this process has used. */
export function selfCpuSplit(): CpuSplit {
  const u = process.cpuUsage();
  return { userUs: u.user, systemUs: u.system };
}

/**
 * user + system CPU microseconds process `pid` has used, from /proc/<pid>/stat (Linux; 10 ms resolution, so
 * measure over many short windows or one long one). Synchronous: a /proc read takes tens of microseconds.
 */
export function procCpuUs(pid: number): number {
  const s = procCpuSplit(pid);
  return s.userUs + s.systemUs;
}

/** utime and stime of process `pid` in microseconds (see procCpuUs for the resolution). */
export function procCpuSplit(pid: number): CpuSplit {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based) of the whole line.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { userUs: Number(rest[11]) * US_PER_TICK, systemUs: Number(rest[12]) * US_PER_TICK };
}

/**
 * Write-family system calls (write, writev, ...) process `pid` (default: this process) has made, from the `syscw`
 * line of /proc/<pid>/io (Linux). Each `socket.write` a tick hands to the kernel is one; a cell's requests divided by
 * them is how many frames one write carries on average.
 */
export function writeCalls(pid?: number): number {
  const io = readFileSync(`/proc/${pid ?? 'self'}/io`, 'utf8');
  const m = /^syscw: (\d+)$/mu.exec(io);
  if (m?.[1] === undefined) throw new Error(`no syscw line in /proc/${pid ?? 'self'}/io`);
  return Number(m[1]);
}
