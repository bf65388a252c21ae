#!/usr/bin/env node
// Checks a CARv1 with IPFS's own CAR reader: every block must hash (sha2-256) to its CID, the header must name one root
// (EXPECTED_ROOT when given); with OUT_FILE the UnixFS file under that root is exported through ipfs-unixfs-exporter from
// the CAR's blocks alone and written there. Prints {"root": "...", "blocks": N}; exits 1 naming what is wrong.
// Usage: node car-check.mjs CARFILE [EXPECTED_ROOT] [OUT_FILE]
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { finished } from 'node:stream/promises'
import { CarReader } from '@ipld/car'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { exporter } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import { equals } from 'multiformats/bytes'
import { sha256 } from 'multiformats/hashes/sha2'

function fail (message) {
  console.error(`car-check: ${message}`)
  process.exit(1)
}

const [carFile, expectedRoot, outFile] = process.argv.slice(2)
if (carFile === undefined) {
  console.error('usage: node car-check.mjs CARFILE [EXPECTED_ROOT] [OUT_FILE]')
  process.exit(2)
}

let reader
try {
  reader = await CarReader.fromBytes(await readFile(carFile))
} catch (error) {
  fail(`${carFile} is not a readable CAR: ${error.message}`)
}

const roots = await reader.getRoots()
if (roots.length !== 1) {
  fail(`expected exactly one root, the header names ${roots.length}`)
}
const root = roots[0]
if (expectedRoot !== undefined && expectedRoot !== '' && !root.equals(CID.parse(expectedRoot))) {
  fail(`the root is ${root}, expected ${expectedRoot}`)
}

const blockstore = new MemoryBlockstore()
let blocks = 0
for await (const { cid, bytes } of reader.blocks()) {
  if (cid.multihash.code !== sha256.code) {
    fail(`block ${cid} is not hashed with sha2-256`)
  }
  const digest = await sha256.digest(bytes)
  if (!equals(digest.bytes, cid.multihash.bytes)) {
    fail(`block ${cid} does not hash to its CID (its bytes hash to ${CID.create(1, cid.code, digest)})`)
  }
  await blockstore.put(cid, bytes)
  blocks++
}
if (!(await blockstore.has(root))) {
  fail(`the root ${root} is not among the CAR's blocks`)
}

if (outFile !== undefined) {
  try {
    const entry = await exporter(root, blockstore)
    if (entry.type !== 'file' && entry.type !== 'raw') {
      fail(`the root ${root} is a ${entry.type}, not a file`)
    }
    const out = createWriteStream(outFile)
    for await (const chunk of entry.content()) {
      if (!out.write(chunk)) {
        await new Promise(resolve => out.once('drain', resolve))
      }
    }
    out.end()
    await finished(out)
  } catch (error) {
    fail(`exporting ${root} failed: ${error.message}`)
  }
}

console.log(JSON.stringify({ root: root.toString(), blocks }))
