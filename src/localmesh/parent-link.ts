// Keeps a supervised child from outliving its supervisor, however the supervisor dies (SIGKILL included). Linux has
// PR_SET_PDEATHSIG, but Node does not expose it; a pipe does the same job portably: the supervisor holds the write
// end of the child's stdin and never writes, the kernel closes it when the supervisor exits, and the child sees EOF.
import type { Readable } from 'node:stream';

/** The spearlet flag that turns the watch on (`spear-mesh spearlet --exit-on-stdin-close`). */
export const EXIT_ON_STDIN_CLOSE_FLAG = '--exit-on-stdin-close';

/**
 * Calls `onParentGone` once, when `stdin` ends or fails (the process holding its other end is gone). Anything the
 * parent writes is read and discarded, so a writing parent cannot fill the pipe. Returns a function that stops the watch.
 */
export function watchParentPipe(stdin: Readable, onParentGone: (why: string) => void): () => void {
  let done = false;
  const fire = (why: string): void => {
    if (done) return;
    done = true;
    stop();
    onParentGone(why);
  };
  const onData = (): void => undefined;
  const onEnd = (): void => {
    fire('stdin closed');
  };
  const onError = (err: Error): void => {
    fire(`stdin failed: ${err.message}`);
  };
  const stop = (): void => {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    stdin.off('error', onError);
    stdin.pause();
    // Without this the paused stdin handle would keep the event loop alive after a drain.
    if ('unref' in stdin && typeof stdin.unref === 'function') (stdin.unref as () => void)();
  };
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  stdin.once('error', onError);
  stdin.resume();
  return () => {
    done = true;
    stop();
  };
}
