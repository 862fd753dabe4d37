// Where Node's headers are, so that node-gyp never downloads them: npm_config_nodedir when the
// user set one, else the prefix of the running node (<prefix>/include/node ships with Node
// itself, in distribution packages, official tarballs and nvm alike), else null.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function nodeHeadersPrefix() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const include = path.join(prefix, 'include', 'node');
  const ok = ['node_api.h', 'common.gypi'].every((f) => fs.existsSync(path.join(include, f)));
  return ok ? prefix : null;
}

module.exports = { nodeHeadersPrefix };
