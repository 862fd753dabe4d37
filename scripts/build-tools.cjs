// Checks, before node-gyp runs, that the tools it needs are on PATH. Without this a user with no
// compiler gets pages of "gyp ERR!" before our one message saying what to install.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function onPath(command) {
  if (!command) return false;
  if (command.includes('/')) return isExecutable(command);
  return (process.env.PATH || '').split(path.delimiter).some((dir) => dir && isExecutable(path.join(dir, command)));
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

// Only the first word: CXX may be "ccache g++".
const firstWord = (value) => (value || '').trim().split(/\s+/)[0];

/** Names of the missing tools, empty when a build can be tried. Windows is left to node-gyp,
 * which finds Visual Studio by itself. */
function missingBuildTools() {
  if (process.platform === 'win32') return [];
  const missing = [];
  const cxx = firstWord(process.env.CXX);
  if (cxx ? !onPath(cxx) : !['c++', 'g++', 'clang++'].some(onPath)) missing.push('a C++ compiler (c++, g++ or clang++)');
  if (!['make', 'gmake'].some(onPath)) missing.push('make');
  const python = firstWord(process.env.npm_config_python || process.env.PYTHON);
  if (python ? !onPath(python) : !['python3', 'python'].some(onPath)) missing.push('Python 3');
  return missing;
}

module.exports = { missingBuildTools };
