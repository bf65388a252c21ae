#!/usr/bin/env node
// Prints the root CID IPFS's own importer gives FILE with the options of `ipfs add --cid-version 1`:
// CIDv1, raw leaves, 262,144-byte fixed-size chunks, a balanced layout of at most 174 links per node.
// Usage: node cid.mjs FILE
import { createReadStream } from 'node:fs'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { importFile } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'

const [file] = process.argv.slice(2)
if (file === undefined) {
  console.error('usage: node cid.mjs FILE')
  process.exit(2)
}

const blockstore = new MemoryBlockstore()
const entry = await importFile({ content: createReadStream(file) }, blockstore, {
  cidVersion: 1,
  rawLeaves: true,
  chunker: fixedSize({ chunkSize: 262144 }),
  layout: balanced({ maxChildrenPerNode: 174 }),
  reduceSingleLeafToSelf: true
})
console.log(entry.cid.toString())
