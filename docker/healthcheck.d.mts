// Types of healthcheck.mjs for the tests that import it.
export function readProcess(pid: number | string): { argv: string[]; env: Record<string, string> };
export function healthUrl(
  argv: string[],
  env: Record<string, string | undefined>,
  readJson?: (path: string) => { port?: number | string; host?: string },
): string;
