// A Disk that passes everything to another one but can hold a chosen operation: a pause point for
// tests that need one step of a protocol to wait while another operation runs to completion.
import type { Disk, DiskFile, OpenFlags } from '../disk.ts';

type PathOp = 'open' | 'readFile' | 'rename' | 'unlink' | 'readdir' | 'mkdirp' | 'stat';

export interface Gate {
  /** Resolves when an operation matching the gate has arrived and is being held. */
  readonly reached: Promise<void>;
  release(): void;
}

interface Held {
  readonly match: (op: PathOp, path: string) => boolean;
  readonly arrived: () => void;
  readonly open: Promise<void>;
}

export class GatedDisk implements Disk {
  private gates: Held[] = [];
  constructor(private readonly inner: Disk) {}

  /** Holds the next operation `op` on a path for which `match` is true, until released. */
  hold(op: PathOp, match: (path: string) => boolean): Gate {
    let arrived!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((r) => {
      arrived = r;
    });
    const open = new Promise<void>((r) => {
      release = r;
    });
    this.gates.push({ match: (o, p) => o === op && match(p), arrived, open });
    return { reached, release };
  }

  private async pass(op: PathOp, path: string): Promise<void> {
    const i = this.gates.findIndex((g) => g.match(op, path));
    if (i < 0) return;
    const g = this.gates.splice(i, 1)[0]!;
    g.arrived();
    await g.open;
  }

  async open(path: string, flags: OpenFlags): Promise<DiskFile> {
    await this.pass('open', path);
    return this.inner.open(path, flags);
  }
  async readFile(path: string): Promise<Buffer> {
    await this.pass('readFile', path);
    return this.inner.readFile(path);
  }
  async rename(from: string, to: string): Promise<void> {
    await this.pass('rename', from);
    return this.inner.rename(from, to);
  }
  async unlink(path: string): Promise<void> {
    await this.pass('unlink', path);
    return this.inner.unlink(path);
  }
  async readdir(path: string): Promise<string[]> {
    await this.pass('readdir', path);
    return this.inner.readdir(path);
  }
  async mkdirp(path: string): Promise<void> {
    await this.pass('mkdirp', path);
    return this.inner.mkdirp(path);
  }
  async stat(path: string): Promise<{ size: number }> {
    await this.pass('stat', path);
    return this.inner.stat(path);
  }
  freeBytes(path: string): Promise<number> {
    return this.inner.freeBytes(path);
  }
}
