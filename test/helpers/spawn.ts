/** Runs an example's built entry point as a real process, as a user would. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface RunningExample extends AsyncDisposable {
  child: ChildProcess;
  /** The first line matching the pattern, once the server printed it. */
  banner: RegExpMatchArray;
  stdout(): string;
  stderr(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

const root = fileURLToPath(new URL('../../', import.meta.url));

export async function runExample(
  example: string,
  args: string[],
  ready: RegExp,
  env: Record<string, string> = {},
): Promise<RunningExample> {
  const child = spawn(process.execPath, [`${root}examples/${example}/dist/main.js`, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const banner = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const check = (): void => {
      const match = out.match(ready);
      if (match) {
        child.stdout!.off('data', check);
        resolve(match);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`${example} exited with ${code} before it was ready:\n${out}\n${err}`)));
  });
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const code = await exited;
    await new Promise((resolve) => setImmediate(resolve));
    return code;
  };
  return {
    child,
    banner,
    stdout: () => out,
    stderr: () => err,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}

/** Whether `python3` with its `ssl` module is there (a TLS peer for some tests). */
export const hasPythonSsl = spawnSync('python3', ['-c', 'import ssl']).status === 0;

/** Runs a Python script with arguments; resolves with its stdout, rejects with its stderr on failure. */
export function runPython(script: string, args: string[] = []): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk) => (out += chunk));
    child.stderr!.on('data', (chunk) => (err += chunk));
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`python3 exited with ${code}: ${err}`))));
  });
}

/** Runs a Node script to its end: its exit code and everything it printed. */
export async function runScript(script: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  // 'close', not 'exit': the output may still be on its way when the process has exited.
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, out, err };
}
