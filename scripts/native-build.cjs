#!/usr/bin/env node
// Prints a list from native/build.json, space-separated, for binding.gyp's <!@(...) and the
// shell scripts: `native-build.cjs sources <group>` or `native-build.cjs flags <group>`.
'use strict';
const build = require('../native/build.json');
const [kind, group] = process.argv.slice(2);
const table = kind === 'sources' ? build.sources : kind === 'flags' ? build.flags : undefined;
if (!table || !Array.isArray(table[group])) {
  console.error(`native-build.cjs: no ${kind} group '${group}' in native/build.json (usage: native-build.cjs sources|flags <group>)`);
  process.exit(1);
}
console.log(table[group].join(' '));
