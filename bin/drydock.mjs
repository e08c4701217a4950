#!/usr/bin/env node
// The launcher's earlier name, kept so `node bin/drydock.mjs …` still works: it runs
// bin/drydock.cjs (the `drydock` command), which is faster to start (see there).
import './drydock.cjs';
