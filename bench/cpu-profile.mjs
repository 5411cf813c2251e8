// Preload: CPU profile of the whole process, written at exit into $QUIRE_PROF_DIR.

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const dir = process.env.QUIRE_PROF_DIR;
if (dir) {
  const s = new Session();
  s.connect();
  s.post('Profiler.enable');
  s.post('Profiler.setSamplingInterval', { interval: Number(process.env.QUIRE_PROF_INTERVAL ?? 1000) });
  s.post('Profiler.start');
  process.on('exit', () => {
    s.post('Profiler.stop', (err, r) => {
      if (!err)
        writeFileSync(
          `${dir}/${process.argv[2] ?? 'x'}-${process.pid}.cpuprofile`,
          JSON.stringify(r.profile),
        );
    });
  });
}
