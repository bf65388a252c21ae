#!/usr/bin/env node
// Compiles every contract in this folder with the pinned solc-js into artifacts/<Name>.json (ABI, bytecode, deployed
// bytecode and where its immutables sit in it, compiler version, source hash). `node compile.js --check` compiles into memory and exits 1 when a committed
// artifact differs from what the sources compile to (stale or hand-edited artifacts).
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const solc = require('solc');

const root = __dirname;
const artifactsDir = path.join(root, 'artifacts');
const check = process.argv.includes('--check');

const sources = {};
for (const file of fs.readdirSync(root).filter((f) => f.endsWith('.sol')).sort()) {
  sources[file] = { content: fs.readFileSync(path.join(root, file), 'utf8').replace(/\r\n/g, '\n') };
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 10000 },
    evmVersion: 'cancun',
    // No metadata hash: the bytecode then depends only on the source and the settings.
    metadata: { bytecodeHash: 'none', appendCBOR: false },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.deployedBytecode.immutableReferences'] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const diagnostic of output.errors || []) {
  process.stderr.write(diagnostic.formattedMessage + '\n');
}
if (errors.length > 0) {
  process.exit(2);
}

let stale = 0;
if (!check) {
  fs.mkdirSync(artifactsDir, { recursive: true });
}
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, contract] of Object.entries(contracts)) {
    const artifact = {
      contractName: name,
      sourceName: file,
      compiler: `solc-js ${solc.version()}`,
      settings: { optimizer: input.settings.optimizer, evmVersion: input.settings.evmVersion },
      sourceSha256: crypto.createHash('sha256').update(sources[file].content).digest('hex'),
      abi: contract.abi,
      bytecode: '0x' + contract.evm.bytecode.object,
      deployedBytecode: '0x' + contract.evm.deployedBytecode.object,
      // Byte ranges of the deployed code that the constructor fills (zeros above): a verifier zeroes them in the code it reads
      // from a chain and compares the rest with deployedBytecode.
      immutableReferences: Object.values(contract.evm.deployedBytecode.immutableReferences || {})
        .flat()
        .sort((a, b) => a.start - b.start)
        .map((r) => ({ start: r.start, length: r.length })),
    };
    const text = JSON.stringify(artifact, null, 2) + '\n';
    const target = path.join(artifactsDir, `${name}.json`);
    if (check) {
      const committed = fs.existsSync(target) ? fs.readFileSync(target, 'utf8').replace(/\r\n/g, '\n') : null;
      if (committed !== text) {
        process.stderr.write(`stale artifact: ${path.relative(root, target)} does not match ${file}; run 'npm run build' in contracts/ and commit the result\n`);
        stale++;
      } else {
        process.stdout.write(`up to date: ${path.relative(root, target)}\n`);
      }
    } else {
      fs.writeFileSync(target, text);
      process.stdout.write(`wrote ${path.relative(root, target)} (${(artifact.deployedBytecode.length - 2) / 2} bytes deployed)\n`);
    }
  }
}
process.exit(stale === 0 ? 0 : 1);
