#!/usr/bin/env node
// Checks a MetaNode round-proof bundle against an Ethereum JSON-RPC endpoint (and, for a bundle without its model, an IPFS
// gateway). It implements ../round-proof.md independently of the .NET verifier (`metanode-cli proof verify`): the same
// checks, in the same order, under the same names, written from the specification and the ResultRegistry contract only.
//
//   node verify.mjs BUNDLE --rpc-url URL [--ipfs-gateway URL] [--registry ADDRESS] [--artifact PATH]
//
// Exit codes: 0 every check holds, 1 a check failed (named on the FAIL line), 2 bad usage or an unreadable input file.

import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AbiCoder, SigningKey, computeAddress, concat, dataSlice, getBytes, hexlify, id, keccak256, sha256, toBeHex, toQuantity, toUtf8Bytes, zeroPadBytes, zeroPadValue } from 'ethers';
import { CarReader } from '@ipld/car';
import { CID } from 'multiformats/cid';
import { sha256 as multihashSha256 } from 'multiformats/hashes/sha2';
import { equals } from 'multiformats/bytes';
import { MemoryBlockstore } from 'blockstore-core/memory';
import { exporter } from 'ipfs-unixfs-exporter';

const USAGE = 'usage: node verify.mjs BUNDLE --rpc-url URL [--ipfs-gateway URL] [--registry ADDRESS] [--artifact PATH]';
const RPC_TIMEOUT_MS = 30_000;
const GATEWAY_TIMEOUT_MS = 120_000;

const FORMAT = 'metanode-round-proof/1';
const BYTES32 = /^0x[0-9a-f]{64}$/, ADDRESS = /^0x[0-9a-f]{40}$/, SIGNATURE = /^0x[0-9a-f]{130}$/;
const DECIMAL = /^(0|[1-9][0-9]*)$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UINT256_MAX = (1n << 256n) - 1n, UINT64_MAX = (1n << 64n) - 1n;
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const CODEC_RAW = 0x55, CODEC_DAG_PB = 0x70, SHA2_256 = 0x12;

const abi = AbiCoder.defaultAbiCoder();
const REGISTRY_DOMAIN_TYPEHASH = id('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)');
const VPOD_DOMAIN_TYPEHASH = id('EIP712Domain(string name,string version,uint256 chainId)');
const FINALIZE_TYPEHASH = id('FinalizeRound(bytes32 jobId,uint64 round,bytes32 resultHash,bytes32 receiptsRoot,bytes32 modelRef,bytes modelCid)');
const RECEIPT_TYPEHASH = id('TrainingReceipt(string job,uint256 round,string vpod,uint256 sampleCount,bytes32 updateHash)');
const ROUND_FINALIZED = id('RoundFinalized(bytes32,uint64,bytes32,bytes32,bytes32,bytes)');
const VALIDATORS_ROTATED = id('ValidatorsRotated(uint64,address[],uint64)');
const GET_ROUND = id('getRound(bytes32,uint64)').slice(0, 10);

class CheckFailure extends Error {}
const fail = (message) => { throw new CheckFailure(message); };
const usage = (message) => { console.error(message); console.error(USAGE); process.exit(2); };
const word = (value) => zeroPadValue(toBeHex(value), 32);
const same = (a, b) => typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();
const short = (hex) => (hex.length > 14 ? `${hex.slice(0, 10)}…` : hex);

// ------------------------------------------------------------------ command line

function parseArguments(argv) {
  const options = { artifact: resolve(dirname(fileURLToPath(import.meta.url)), '../../contracts/artifacts/ResultRegistry.json') };
  const flags = { '--rpc-url': 'rpcUrl', '--ipfs-gateway': 'gateway', '--registry': 'registry', '--artifact': 'artifact' };
  for (let i = 0; i < argv.length; i++) {
    let [flag, value] = argv[i].startsWith('--') && argv[i].includes('=') ? argv[i].split(/=(.*)/s) : [argv[i], undefined];
    if (flag === '--help' || flag === '-h') { console.log(USAGE); process.exit(0); }
    if (flags[flag]) {
      value ??= argv[++i];
      if (value === undefined || value === '') usage(`${flag} needs a value`);
      options[flags[flag]] = value;
    } else if (flag.startsWith('-')) usage(`unknown option ${flag}`);
    else if (options.bundle !== undefined) usage(`unexpected argument ${flag}: give one bundle`);
    else options.bundle = flag;
  }
  if (options.bundle === undefined) usage('no bundle given');
  if (options.rpcUrl === undefined) usage('--rpc-url is required');
  for (const [flag, key] of [['--rpc-url', 'rpcUrl'], ['--ipfs-gateway', 'gateway']]) {
    if (options[key] !== undefined && !/^https?:\/\/[^/]/.test(options[key])) usage(`${flag} must be an http(s) URL`);
  }
  if (options.registry !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(options.registry)) usage('--registry must be an address (0x + 40 hex digits)');
  return options;
}

function readJson(path, what) {
  let text;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(path)); }
  catch (e) { usage(`cannot read ${what} ${path}: ${e.code === 'ERR_ENCODING_INVALID_ENCODED_DATA' ? 'not UTF-8' : e.message}`); }
  try { return { text, value: JSON.parse(text) }; }
  catch (e) { usage(`${what} ${path} is not JSON: ${e.message}`); }
}

// ------------------------------------------------------------------ network

let rpcId = 0;
async function rpc(url, method, params) {
  let response;
  try {
    response = await fetch(url, {
      method: 'POST', headers: { 'content-type': 'application/json' }, redirect: 'error',
      body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params }), signal: AbortSignal.timeout(RPC_TIMEOUT_MS),
    });
  } catch (e) { fail(`${method} to ${url} failed: ${e.cause?.message ?? e.message}`); }
  if (!response.ok) fail(`${method} got HTTP ${response.status} from ${url}`);
  let reply;
  try { reply = await response.json(); } catch { fail(`${method} got a reply that is not JSON`); }
  if (reply?.error) fail(`${method} failed: ${reply.error.message ?? JSON.stringify(reply.error)}`);
  if (!reply || !('result' in reply)) fail(`${method} got no result`);
  return reply.result;
}

// ------------------------------------------------------------------ hashing (EIP-712, Merkle)

const registryDomain = (chainId, registry) => keccak256(abi.encode(['bytes32', 'bytes32', 'bytes32', 'uint256', 'address'],
  [REGISTRY_DOMAIN_TYPEHASH, id('MetaNode ResultRegistry'), id('1'), chainId, registry]));
const vpodDomain = (chainId) => keccak256(abi.encode(['bytes32', 'bytes32', 'bytes32', 'uint256'],
  [VPOD_DOMAIN_TYPEHASH, id('MetaNode vPod'), id('2'), chainId]));
// The CID is EIP-712 `bytes`: hashed, its 36 binary bytes.
const finalizeStructHash = (b) => keccak256(abi.encode(['bytes32', 'bytes32', 'uint64', 'bytes32', 'bytes32', 'bytes32', 'bytes32'],
  [FINALIZE_TYPEHASH, b.jobId, b.round, b.resultHash, b.receiptsRoot, b.modelRef, keccak256(b.cid.bytes)]));
const receiptStructHash = (b, r) => keccak256(abi.encode(['bytes32', 'bytes32', 'uint256', 'bytes32', 'uint256', 'bytes32'],
  [RECEIPT_TYPEHASH, id(b.job), b.round, id(r.vpod), BigInt(r.sampleCount), r.updateHash]));
const typedDigest = (separator, structHash) => keccak256(concat(['0x1901', separator, structHash]));
// Lower-case 0x hex of equal length compares as the unsigned big-endian numbers it spells.
const hashPair = (a, b) => keccak256(a <= b ? concat([a, b]) : concat([b, a]));

function merkleRoot(leaves) {
  let level = [...leaves].sort();
  for (let i = 1; i < level.length; i++) if (level[i] === level[i - 1]) fail(`two receipts have the same leaf ${level[i]}`);
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(hashPair(level[i], level[i + 1]));
    if (level.length % 2 === 1) next.push(level.at(-1));
    level = next;
  }
  return level[0];
}

function recoverSigner(digest, signature, who) {
  const bytes = getBytes(signature);
  if (bytes[64] !== 27 && bytes[64] !== 28) fail(`${who}'s signature has v = ${bytes[64]}, not 27 or 28`);
  if (BigInt(hexlify(bytes.subarray(32, 64))) > HALF_N) fail(`${who}'s signature has s above n/2 (malleable)`);
  try { return computeAddress(SigningKey.recoverPublicKey(digest, signature)).toLowerCase(); }
  catch { return fail(`${who}'s signature recovers to no key`); }
}

// ------------------------------------------------------------------ format

// JSON.parse keeps the last of duplicated members and reads 1.0 or 1e0 as 1; the layout allows neither.
function lexicalProblem(text) {
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[{}[\]:,]/g) ?? [];
  const open = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token === '{' || token === '[') open.push(token === '{' ? new Set() : null);
    else if (token === '}' || token === ']') open.pop();
    else if (token[0] === '"' && tokens[i + 1] === ':') {
      const key = JSON.parse(token);
      if (open.at(-1).has(key)) return `member "${key}" appears twice in one object`;
      open.at(-1).add(key);
    } else if (/^-|^\d.*[.eE]/.test(token)) {
      const member = tokens[i - 1] === ':' ? JSON.parse(tokens[i - 2]) : 'a number';
      return `${member} must be a non-negative JSON integer (no sign, fraction or exponent), not ${token}`;
    }
  }
  return null;
}

function members(value, where, required, optional = []) {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${where} must be a JSON object`);
  for (const key of Object.keys(value)) if (!required.includes(key) && !optional.includes(key)) fail(`${where} has an unknown member "${key}"`);
  for (const key of required) if (!Object.hasOwn(value, key)) fail(`${where} lacks the member "${key}"`);
}

function expect(object, key, prefix, test, what) {
  if (!test(object[key])) fail(`${prefix}${key} must be ${what}`);
  return object[key];
}

const isString = (re) => (v) => typeof v === 'string' && re.test(v);
const isDecimal = (max) => (v) => typeof v === 'string' && DECIMAL.test(v) && BigInt(v) <= max;
const isArray = (v) => Array.isArray(v) && v.length >= 1;

function checkFormat(ctx) {
  const problem = lexicalProblem(ctx.text);
  if (problem) fail(problem);
  const b = ctx.bundle;
  const top = ['format', 'chainId', 'registry', 'job', 'round', 'resultHash', 'receiptsRoot', 'modelRef', 'modelCid', 'transaction', 'validators', 'receipts'];
  members(b, 'the bundle', top, ['model']);
  if (b.format !== FORMAT) fail(`format must be "${FORMAT}"`);
  ctx.chainId = BigInt(expect(b, 'chainId', '', isDecimal(UINT256_MAX), 'a decimal string (no sign, no leading zeros) below 2^256'));
  ctx.registry = expect(b, 'registry', '', isString(ADDRESS), 'an address: 0x and 40 lower-case hex digits');
  const job = expect(b, 'job', '', (v) => typeof v === 'string' && v.isWellFormed(), 'a string of valid Unicode');
  const jobBytes = toUtf8Bytes(job);
  if (jobBytes.length < 1 || jobBytes.length > 32 || job.includes('\0')) fail('job must be 1-32 bytes of UTF-8 without NUL');
  ctx.job = job;
  ctx.jobId = zeroPadBytes(jobBytes, 32);
  ctx.round = BigInt(expect(b, 'round', '', (v) => Number.isSafeInteger(v) && v >= 0 && !Object.is(v, -0), 'a non-negative JSON integer'));
  for (const key of ['resultHash', 'receiptsRoot', 'modelRef']) ctx[key] = expect(b, key, '', isString(BYTES32), 'bytes32: 0x and 64 lower-case hex digits');

  const cidText = expect(b, 'modelCid', '', (v) => typeof v === 'string', 'a CID string');
  let cid;
  try { cid = CID.parse(cidText); } catch (e) { fail(`modelCid ${cidText} is not a CID: ${e.message}`); }
  if (cid.version !== 1 || !cidText.startsWith('b') || cid.toString() !== cidText) fail('modelCid must be a CIDv1 in lower-case base32 ("b…")');
  if (cid.code !== CODEC_RAW && cid.code !== CODEC_DAG_PB) fail(`modelCid's codec is 0x${cid.code.toString(16)}, not raw (0x55) or dag-pb (0x70)`);
  if (cid.multihash.code !== SHA2_256 || cid.multihash.size !== 32) fail("modelCid's multihash is not sha2-256");
  ctx.cid = cid;

  members(b.transaction, 'transaction', ['hash', 'blockNumber', 'blockHash']);
  ctx.txHash = expect(b.transaction, 'hash', 'transaction.', isString(BYTES32), 'bytes32');
  ctx.blockNumber = BigInt(expect(b.transaction, 'blockNumber', 'transaction.', isDecimal(UINT64_MAX), 'a decimal string (no sign, no leading zeros) below 2^64'));
  ctx.blockHash = expect(b.transaction, 'blockHash', 'transaction.', isString(BYTES32), 'bytes32');

  expect(b, 'validators', '', isArray, 'a non-empty array');
  b.validators.forEach((v, i) => {
    const prefix = `validators[${i}].`;
    members(v, `validators[${i}]`, ['address', 'signature']);
    expect(v, 'address', prefix, isString(ADDRESS), 'an address: 0x and 40 lower-case hex digits');
    expect(v, 'signature', prefix, isString(SIGNATURE), '65 bytes: 0x and 130 lower-case hex digits');
    if (i > 0 && !(b.validators[i - 1].address < v.address)) fail(`validators must be sorted by address ascending and distinct: validators[${i}] is not above validators[${i - 1}]`);
  });

  expect(b, 'receipts', '', isArray, 'a non-empty array');
  b.receipts.forEach((r, i) => {
    const prefix = `receipts[${i}].`;
    members(r, `receipts[${i}]`, ['vpod', 'address', 'sampleCount', 'updateHash', 'signature', 'branch']);
    expect(r, 'vpod', prefix, (v) => typeof v === 'string' && v.length > 0 && v.isWellFormed(), 'a non-empty string of valid Unicode');
    expect(r, 'address', prefix, isString(ADDRESS), 'an address: 0x and 40 lower-case hex digits');
    expect(r, 'sampleCount', prefix, isDecimal(UINT256_MAX), 'a decimal string (no sign, no leading zeros) below 2^256');
    expect(r, 'updateHash', prefix, isString(BYTES32), 'bytes32: 0x and 64 lower-case hex digits');
    expect(r, 'signature', prefix, isString(SIGNATURE), '65 bytes: 0x and 130 lower-case hex digits');
    expect(r, 'branch', prefix, Array.isArray, 'an array');
    r.branch.forEach((h, j) => { if (!isString(BYTES32)(h)) fail(`${prefix}branch[${j}] must be bytes32: 0x and 64 lower-case hex digits`); });
    if (i > 0 && !(b.receipts[i - 1].vpod < r.vpod)) fail(`receipts must be sorted by vpod (ordinal) and distinct: receipts[${i}] is not above receipts[${i - 1}]`);
  });

  if (Object.hasOwn(b, 'model')) {
    members(b.model, 'model', ['car']);
    const car = b.model.car;
    if (typeof car !== 'string' || car === '' || !BASE64.test(car) || Buffer.from(car, 'base64').toString('base64') !== car) fail('model.car must be non-empty base64 (standard alphabet, padded)');
  }
  return `${FORMAT}, job "${job}" round ${ctx.round}, ${b.validators.length} validator(s), ${b.receipts.length} receipt(s)${b.model ? ', model embedded' : ''}`;
}

// ------------------------------------------------------------------ chain checks

async function checkChain(ctx) {
  const chainId = BigInt(await rpc(ctx.rpcUrl, 'eth_chainId', []));
  if (chainId !== ctx.chainId) fail(`the endpoint is chain ${chainId}, the bundle is for chain ${ctx.chainId}`);
  return `chain id ${chainId}`;
}

async function checkRegistryCode(ctx) {
  if (ctx.expectedRegistry !== undefined && !same(ctx.expectedRegistry, ctx.registry)) fail(`the bundle's registry is ${ctx.registry}, not ${ctx.expectedRegistry.toLowerCase()} (--registry)`);
  const code = getBytes(await rpc(ctx.rpcUrl, 'eth_getCode', [ctx.registry, 'latest']));
  const expected = getBytes(ctx.artifact.deployedBytecode);
  if (code.length === 0) fail(`there is no contract at ${ctx.registry}`);
  if (code.length !== expected.length) fail(`the code at ${ctx.registry} is ${code.length} bytes, the ResultRegistry's is ${expected.length}`);
  ctx.separator = registryDomain(ctx.chainId, ctx.registry);
  const allowed = [word(ctx.chainId), ctx.separator];
  const masked = Uint8Array.from(code);
  for (const { start, length } of ctx.artifact.immutableReferences) {
    const held = hexlify(code.subarray(start, start + length));
    if (!allowed.includes(held)) fail(`the immutable at bytes ${start}-${start + length - 1} holds ${held}, neither the chain id nor the registry's domain separator`);
    masked.fill(0, start, start + length);
  }
  const differs = masked.findIndex((byte, i) => byte !== expected[i]);
  if (differs >= 0) fail(`the code at ${ctx.registry} differs from the ResultRegistry's at byte ${differs}`);
  return `${ctx.registry} runs the ResultRegistry (${code.length} bytes, ${ctx.artifact.immutableReferences.length} immutables hold chain ${ctx.chainId} and its domain)`;
}

async function checkTransaction(ctx) {
  const receipt = await rpc(ctx.rpcUrl, 'eth_getTransactionReceipt', [ctx.txHash]);
  if (!receipt) fail(`the chain has no receipt for transaction ${ctx.txHash}`);
  if (!same(receipt.transactionHash, ctx.txHash)) fail(`the receipt returned is for ${receipt.transactionHash}, not ${ctx.txHash}`);
  if (receipt.status !== '0x1') fail(`transaction ${ctx.txHash} failed (status ${receipt.status})`);
  if (!same(receipt.to, ctx.registry)) fail(`transaction ${ctx.txHash} was sent to ${receipt.to}, not the registry ${ctx.registry}`);
  if (BigInt(receipt.blockNumber) !== ctx.blockNumber) fail(`transaction ${ctx.txHash} is in block ${BigInt(receipt.blockNumber)}, not ${ctx.blockNumber}`);
  if (!same(receipt.blockHash, ctx.blockHash)) fail(`transaction ${ctx.txHash} is in block ${receipt.blockHash}, not ${ctx.blockHash}`);
  const block = await rpc(ctx.rpcUrl, 'eth_getBlockByNumber', [toQuantity(ctx.blockNumber), false]);
  if (!block) fail(`the chain has no block ${ctx.blockNumber}`);
  if (!same(block.hash, ctx.blockHash)) fail(`block ${ctx.blockNumber} on the chain is ${block.hash}, not ${ctx.blockHash}`);
  ctx.receipt = receipt;
  return `${short(ctx.txHash)} succeeded, sent to the registry, in block ${ctx.blockNumber} (${short(ctx.blockHash)}) of the canonical chain`;
}

async function checkEvent(ctx) {
  const logs = (ctx.receipt.logs ?? []).filter((log) => same(log.address, ctx.registry) && same(log.topics?.[0], ROUND_FINALIZED)
    && same(log.topics?.[1], ctx.jobId) && same(log.topics?.[2], word(ctx.round)));
  if (logs.length !== 1) fail(`the transaction has ${logs.length} RoundFinalized logs of the registry for job "${ctx.job}" round ${ctx.round}, not exactly one`);
  const log = logs[0];
  if (log.topics.length !== 3) fail(`the RoundFinalized log has ${log.topics.length} topics, not 3`);
  let decoded;
  try { decoded = abi.decode(['bytes32', 'bytes32', 'bytes32', 'bytes'], log.data); } catch (e) { fail(`the RoundFinalized data does not decode: ${e.shortMessage ?? e.message}`); }
  const cidHex = hexlify(ctx.cid.bytes);
  const fields = [['resultHash', ctx.resultHash], ['receiptsRoot', ctx.receiptsRoot], ['modelRef', ctx.modelRef], ['modelCid', cidHex]];
  fields.forEach(([name, want], i) => { if (!same(decoded[i], want)) fail(`the event's ${name} is ${decoded[i] === '0x' ? 'empty' : decoded[i]}, the bundle's is ${want}`); });
  const canonical = abi.encode(['bytes32', 'bytes32', 'bytes32', 'bytes'], fields.map(([, want]) => want));
  if (!same(log.data, canonical)) fail('the RoundFinalized data is not the canonical ABI encoding of its values');
  ctx.eventPosition = [BigInt(log.blockNumber), BigInt(log.logIndex)];
  return `RoundFinalized at log index ${BigInt(log.logIndex)} carries the bundle's result, receipts root, model ref and CID`;
}

async function checkRegistryRecord(ctx) {
  const data = concat([GET_ROUND, abi.encode(['bytes32', 'uint64'], [ctx.jobId, ctx.round])]);
  const result = await rpc(ctx.rpcUrl, 'eth_call', [{ to: ctx.registry, data }, 'latest']);
  let blockNumber, commitment;
  try { [blockNumber, commitment] = abi.decode(['uint64', 'bytes24'], result); } catch { fail(`getRound returned ${result}, not (uint64, bytes24)`); }
  if (blockNumber === 0n) fail(`the registry has no record of job "${ctx.job}" round ${ctx.round}`);
  if (blockNumber !== ctx.blockNumber) fail(`the registry records the round in block ${blockNumber}, not ${ctx.blockNumber}`);
  ctx.structHash = finalizeStructHash(ctx);
  const expected = dataSlice(ctx.structHash, 8);
  if (!same(commitment, expected)) fail(`the registry's commitment is ${commitment}, the bundle's fields give ${expected}`);
  if (!same(result, abi.encode(['uint64', 'bytes24'], [blockNumber, commitment]))) fail('getRound returned a non-canonical encoding');
  return `getRound gives block ${blockNumber} and commitment ${short(commitment)}, as the bundle's fields do`;
}

async function checkValidatorSet(ctx) {
  const filter = { address: ctx.registry, topics: [VALIDATORS_ROTATED], fromBlock: '0x0', toBlock: toQuantity(ctx.blockNumber) };
  const found = await rpc(ctx.rpcUrl, 'eth_getLogs', [filter]);
  if (!Array.isArray(found)) fail('eth_getLogs returned no list');
  const logs = found.map((log) => ({ ...log, block: BigInt(log.blockNumber), index: BigInt(log.logIndex) }));
  logs.sort((a, b) => (a.block !== b.block ? (a.block < b.block ? -1 : 1) : a.index < b.index ? -1 : a.index > b.index ? 1 : 0));
  if (logs.length === 0) fail('the registry emitted no ValidatorsRotated log up to the round\'s block');
  const sets = logs.map((log, i) => {
    if (!same(log.address, ctx.registry) || log.topics?.length !== 2 || !same(log.topics[0], VALIDATORS_ROTATED) || log.removed) fail(`eth_getLogs returned a log that is not the registry's ValidatorsRotated (#${i})`);
    const setId = BigInt(log.topics[1]);
    let validators, threshold;
    try { [validators, threshold] = abi.decode(['address[]', 'uint64'], log.data); } catch { fail(`the ValidatorsRotated log of set ${setId} does not decode`); }
    if (!same(log.data, abi.encode(['address[]', 'uint64'], [validators, threshold]))) fail(`the ValidatorsRotated log of set ${setId} is not canonically encoded`);
    if (setId !== BigInt(i + 1)) fail(`rotation #${i + 1} in block ${log.block} has set id ${setId}, not ${i + 1}`);
    return { setId, validators: validators.map((a) => a.toLowerCase()), threshold, log };
  });
  const deployment = await rpc(ctx.rpcUrl, 'eth_getTransactionReceipt', [logs[0].transactionHash]);
  if (!deployment || !same(deployment.contractAddress, ctx.registry)) fail(`the first ValidatorsRotated log (transaction ${logs[0].transactionHash}) is not from the registry's deployment`);
  const [eventBlock, eventIndex] = ctx.eventPosition;
  const before = sets.filter(({ log }) => log.block < eventBlock || (log.block === eventBlock && log.index < eventIndex));
  if (before.length === 0) fail('no validator set was in force before the RoundFinalized log');
  ctx.set = before.at(-1);
  return `set ${ctx.set.setId} (${ctx.set.validators.length} validators, threshold ${ctx.set.threshold}) in force since block ${ctx.set.log.block}, set ids 1-${ctx.set.setId} from the deployment on`;
}

async function checkValidatorSignatures(ctx) {
  const digest = typedDigest(ctx.separator, ctx.structHash);
  ctx.bundle.validators.forEach(({ address, signature }, i) => {
    const signer = recoverSigner(digest, signature, `validators[${i}]`);
    if (signer !== address) fail(`validators[${i}]'s signature recovers to ${signer}, not ${address}`);
    if (!ctx.set.validators.includes(address)) fail(`validators[${i}] ${address} is not in validator set ${ctx.set.setId}`);
  });
  const count = ctx.bundle.validators.length;
  if (BigInt(count) < ctx.set.threshold) fail(`${count} validator signature(s), set ${ctx.set.setId} needs ${ctx.set.threshold}`);
  return `${count} of set ${ctx.set.setId}'s ${ctx.set.validators.length} validators signed the round's digest ${short(digest)} (threshold ${ctx.set.threshold})`;
}

async function checkReceiptSignatures(ctx) {
  const separator = vpodDomain(ctx.chainId);
  ctx.leaves = ctx.bundle.receipts.map((r, i) => {
    const leaf = receiptStructHash(ctx, r);
    const signer = recoverSigner(typedDigest(separator, leaf), r.signature, `receipts[${i}] (${r.vpod})`);
    if (signer !== r.address) fail(`receipts[${i}] (${r.vpod})'s signature recovers to ${signer}, not ${r.address}`);
    return leaf;
  });
  return `${ctx.leaves.length} receipt(s), each signed by its vPod's key`;
}

async function checkReceiptBranches(ctx) {
  ctx.bundle.receipts.forEach((r, i) => {
    const root = r.branch.reduce(hashPair, ctx.leaves[i]);
    if (root !== ctx.receiptsRoot) fail(`receipts[${i}] (${r.vpod})'s leaf and branch give ${root}, not receiptsRoot ${ctx.receiptsRoot}`);
  });
  const root = merkleRoot(ctx.leaves);
  if (root !== ctx.receiptsRoot) fail(`the tree over the ${ctx.leaves.length} receipts has root ${root}, not receiptsRoot ${ctx.receiptsRoot}: receipts are missing or extra`);
  return `every branch and the tree over all ${ctx.leaves.length} leaves give ${short(root)}`;
}

async function checkModel(ctx) {
  let car, source;
  if (ctx.bundle.model) {
    car = Buffer.from(ctx.bundle.model.car, 'base64');
    source = 'embedded';
  } else {
    if (ctx.gateway === undefined) fail('the bundle has no model and no --ipfs-gateway was given to fetch it from');
    const url = `${ctx.gateway.replace(/\/+$/, '')}/ipfs/${ctx.cid}?format=car`;
    let response;
    try { response = await fetch(url, { headers: { accept: 'application/vnd.ipld.car' }, redirect: 'error', signal: AbortSignal.timeout(GATEWAY_TIMEOUT_MS) }); }
    catch (e) { fail(`GET ${url} failed: ${e.cause?.message ?? e.message}`); }
    if (!response.ok) fail(`GET ${url} answered HTTP ${response.status}`);
    car = new Uint8Array(await response.arrayBuffer());
    source = 'from the gateway';
  }
  let reader;
  try { reader = await CarReader.fromBytes(car); } catch (e) { fail(`the model CAR does not parse: ${e.message}`); }
  if (reader.version !== 1) fail(`the model CAR is version ${reader.version}, not CARv1`);
  const roots = await reader.getRoots();
  if (roots.length !== 1 || !roots[0].equals(ctx.cid)) fail(`the model CAR's roots are [${roots.join(', ')}], not [${ctx.cid}]`);
  const store = new MemoryBlockstore();
  let blocks = 0;
  try {
    for await (const { cid, bytes } of reader.blocks()) {
      if (cid.multihash.code !== SHA2_256) fail(`the model CAR's block ${cid} is not addressed by sha2-256`);
      if (!equals((await multihashSha256.digest(bytes)).digest, cid.multihash.digest)) fail(`the model CAR's block ${cid} does not hash to its CID`);
      await store.put(cid, bytes);
      blocks++;
    }
  } catch (e) { if (e instanceof CheckFailure) throw e; fail(`the model CAR's blocks do not parse: ${e.message}`); }
  const chunks = [];
  try {
    const entry = await exporter(ctx.cid, store);
    if (entry.type !== 'file' && entry.type !== 'raw') fail(`the model's root ${ctx.cid} is a UnixFS ${entry.type}, not a file`);
    for await (const chunk of entry.content()) chunks.push(chunk);
  } catch (e) { if (e instanceof CheckFailure) throw e; fail(`the model does not unpack from the CAR: ${e.message}`); }
  const model = Buffer.concat(chunks);
  const length = model.length;
  if (sha256(model) !== ctx.modelRef) fail(`the model's ${length} bytes have SHA-256 ${sha256(model)}, not modelRef ${ctx.modelRef}`);
  if (keccak256(model) !== ctx.resultHash) fail(`the model's ${length} bytes have keccak-256 ${keccak256(model)}, not resultHash ${ctx.resultHash}`);
  return `${length} bytes under ${ctx.cid} (${blocks} block(s), ${source}) hash to modelRef and resultHash`;
}

// ------------------------------------------------------------------ main

const options = parseArguments(process.argv.slice(2));
const { text, value: bundle } = readJson(options.bundle, 'bundle');
const { value: artifact } = readJson(options.artifact, 'artifact');
if (typeof artifact?.deployedBytecode !== 'string' || !/^0x([0-9a-fA-F]{2})+$/.test(artifact.deployedBytecode) || !Array.isArray(artifact.immutableReferences)
  || !artifact.immutableReferences.every((r) => Number.isSafeInteger(r?.start) && Number.isSafeInteger(r?.length) && r.start >= 0 && r.length > 0 && r.start + r.length <= (artifact.deployedBytecode.length - 2) / 2)) {
  usage(`artifact ${options.artifact} lacks a deployedBytecode and its immutableReferences`);
}

const ctx = { text, bundle, artifact, rpcUrl: options.rpcUrl, gateway: options.gateway, expectedRegistry: options.registry };
const checks = [
  ['format', checkFormat], ['chain', checkChain], ['registry-code', checkRegistryCode], ['transaction', checkTransaction],
  ['event', checkEvent], ['registry-record', checkRegistryRecord], ['validator-set', checkValidatorSet],
  ['validator-signatures', checkValidatorSignatures], ['receipt-signatures', checkReceiptSignatures],
  ['receipt-branches', checkReceiptBranches], ['model', checkModel],
];
let failed = false;
for (const [name, check] of checks) {
  try {
    console.log(`ok   ${name}: ${await check(ctx)}`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e instanceof CheckFailure ? e.message : `unexpected error: ${e.message}`}`);
    failed = true;
    break;
  }
}
if (failed) process.exitCode = 1;
else console.log(`proof holds: job "${ctx.job}" round ${ctx.round} finalized in block ${ctx.blockNumber} by ${bundle.validators.length} of the registry's validator set ${ctx.set.setId} (threshold ${ctx.set.threshold}) at ${ctx.registry} on chain ${ctx.chainId}`);
