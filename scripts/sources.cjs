#!/usr/bin/env node
// Prints one group of native/sources.json, space-separated, for binding.gyp's <!@(...).
'use strict';
const sources = require('../native/sources.json');
const group = process.argv[2];
if (!Array.isArray(sources[group])) {
  console.error(`sources.cjs: no source group '${group}' in native/sources.json`);
  process.exit(1);
}
console.log(sources[group].join(' '));
