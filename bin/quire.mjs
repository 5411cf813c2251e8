#!/usr/bin/env node
// The `quire` command. Sources are TypeScript run through tsx's loader; nothing is compiled ahead of time.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
