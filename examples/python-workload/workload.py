#!/usr/bin/python3
"""MetaNode workload protocol, version 2, in Python 3.

Serves GET /healthz and POST /v2/identity, /v2/data, /v2/statistics, /v2/train, /v2/evaluate, /v2/aggregate and
/v2/sign-rotation, and secure aggregation: POST /v2/secagg/keys, /v2/secagg/shares, /v2/secagg/train, /v2/secagg/survivors and
/v2/secagg/reveal (compute vPods) and /v2/secagg/aggregate (validators), for the vPod's partition in METANODE_DATA_DIR (format
metanode-partition/1), signing with the vPod's own secp256k1 key kept in METANODE_KEY_DIR, and the block store of a storage vPod:
PUT, GET and DELETE /v2/blocks/{cid} and GET /v2/blocks, as described in examples/workload-protocol.md. Training,
quantization, masking, aggregation, hashing and signing follow the C# reference workload operation for operation, so for the
same request and key it returns the same bits (models, masked updates, hashes and RFC 6979 signatures; the secure-aggregation
keys, self masks and Shamir coefficients are random).

Dependencies: the standard library plus Debian's python3-ecdsa (secp256k1, P-256) and python3-pycryptodome (Keccak-256,
AES-GCM), run by the system interpreter /usr/bin/python3. Started by another interpreter that cannot import them, the script
re-executes itself with /usr/bin/python3.

Environment: METANODE_HOST (default 127.0.0.1), METANODE_PORT (default 8080), METANODE_VPOD_ID (default "unknown"),
METANODE_DATA_DIR (default /vpod/data), METANODE_KEY_DIR (default /vpod/key; the key file vpod-key.json is created there,
mode 0600, when missing, a validator records what it signed in signed-rounds.jsonl, a compute vPod keeps each secure job's
state in secagg/{job}/ and a storage vPod its blocks in blocks/). Exits 2 on a bad setting or key file.
"""

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import signal
import struct
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SYSTEM_PYTHON = "/usr/bin/python3"
_REEXEC_MARK = "METANODE_PYTHON_WORKLOAD_REEXEC"

try:
    from Cryptodome.Cipher import AES
    from Cryptodome.Hash import keccak as _keccak
    from ecdsa import NIST256p, SECP256k1, SigningKey
    from ecdsa.ellipticcurve import INFINITY, PointJacobi
    from ecdsa.util import sigencode_strings
except ImportError as missing:
    if __name__ == "__main__" and not os.environ.get(_REEXEC_MARK) and os.path.exists(SYSTEM_PYTHON) \
            and os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON):
        os.environ[_REEXEC_MARK] = "1"
        print(f"{sys.executable} cannot import {missing.name}; running with {SYSTEM_PYTHON}", file=sys.stderr, flush=True)
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, *sys.argv])
    print(f"error: {missing}. Install Debian's python3-ecdsa and python3-pycryptodome and run with {SYSTEM_PYTHON}.",
          file=sys.stderr)
    sys.exit(2)

PROTOCOL_VERSION = 2
FORMAT = "metanode-partition/1"
SPLITS = ("train", "test")
KEY_FILE = "vpod-key.json"
SIGNED_ROUNDS_FILE = "signed-rounds.jsonl"

MASK64 = (1 << 64) - 1
MAX_SEED = (1 << 53) - 1
MAX_EPOCHS = 1000
INT32 = (-(1 << 31), (1 << 31) - 1)
INT64 = (-(1 << 63), (1 << 63) - 1)
UINT64 = (0, MASK64)

MAX_DATA_FILES = 64
MAX_DATA_BYTES = 64 * 1024 * 1024
MAX_BODY_BYTES = (MAX_DATA_BYTES + 2) // 3 * 4 + 1024 * 1024  # 64 MiB of files as base64, and room for the JSON around them
DATA_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
HEX32 = re.compile(r"0[xX][0-9a-fA-F]{64}")
NONCE = re.compile(r"0x[0-9a-fA-F]{64}")
ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
SIGNATURE = re.compile(r"(?:0[xX])?[0-9a-fA-F]{130}")
PRIVATE_KEY = re.compile(r"0x[0-9a-fA-F]{64}")
# .NET's double.TryParse(NumberStyles.Float, InvariantCulture) for finite numbers.
DOTNET_FLOAT = re.compile(r"[ \t\n\v\f\r]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\n\v\f\r]*")


class BadRequest(Exception):
    """Answered with 400."""


class Conflict(Exception):
    """Answered with 409: the data directory cannot serve the request, or the vPod refuses to sign."""


# ---------------------------------------------------------------------------------------------------------------------
# JSON requests, read as the C# workload reads them: a missing field takes its default, a field of the wrong type is 400.
# ---------------------------------------------------------------------------------------------------------------------

class _NegativeZero(int):
    """JSON's -0: the integer 0, but -0.0 where a double is expected (as .NET reads it)."""


NEGATIVE_ZERO = _NegativeZero(0)


def _parse_int(text):
    return NEGATIVE_ZERO if text == "-0" else int(text)


def _refuse_constant(name):
    raise ValueError(f"'{name}' is not a JSON number")


def parse_json(raw):
    try:
        return json.loads(raw.decode("utf-8"), parse_int=_parse_int, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BadRequest(f"The body is not valid JSON: {e}")


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def as_double(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"{what} must be a number.")
    if isinstance(value, _NegativeZero):
        return -0.0
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def get_object(body, name, what=None):
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise BadRequest(f"{what or name} must be a JSON object.")
    return value


def get_list(body, name, what=None):
    value = body.get(name)
    if value is not None and not isinstance(value, list):
        raise BadRequest(f"{what or name} must be a JSON array.")
    return value


def get_string(body, name, what=None):
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{what or name} must be a string.")
    return value


def get_int(body, name, bounds=INT32, what=None, default=0):
    """An integer field; missing is `default`, null or another type is 400 (as for a non-nullable .NET integer)."""
    if name not in body:
        return default
    value = body[name]
    if not is_int(value) or not bounds[0] <= value <= bounds[1]:
        raise BadRequest(f"{what or name} '{value}' must be an integer from {bounds[0]} to {bounds[1]}.")
    return int(value)


def get_optional_int(body, name, bounds=INT64, what=None):
    return None if body.get(name) is None else get_int(body, name, bounds, what)


def get_double(body, name, what=None):
    return as_double(body[name], what or name) if name in body else 0.0


def get_optional_double(body, name, what=None):
    """A nullable number field: None when missing or null."""
    return None if body.get(name) is None else as_double(body[name], what or name)


def get_doubles(body, name, what=None):
    values = get_list(body, name, what)
    if values is None:
        return None
    return [as_double(v, f"{what or name}[{i}]") for i, v in enumerate(values)]


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8(text):
    """UTF-8 as .NET's Encoding.UTF8 writes it: a lone surrogate (JSON allows "\\ud800") becomes U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")


def ordinal_key(text):
    """.NET's StringComparer.Ordinal orders UTF-16 code units; big-endian UTF-16 bytes compare the same way."""
    return text.encode("utf-16-be", "surrogatepass")


# ---------------------------------------------------------------------------------------------------------------------
# Hashing and secp256k1 signatures as Ethereum writes them: 65 bytes r || s || v, v = 27 + recovery id, low s, RFC 6979.
# ---------------------------------------------------------------------------------------------------------------------

CURVE = SECP256k1.curve
GENERATOR = SECP256k1.generator
ORDER = SECP256k1.order
FIELD = CURVE.p()


def keccak256(data):
    return _keccak.new(digest_bits=256, data=data).digest()


def to_hex(data):
    return "0x" + data.hex()


def parse_hash(text):
    """0x + 64 hex digits as 32 bytes, or None."""
    return bytes.fromhex(text[2:]) if isinstance(text, str) and HEX32.fullmatch(text) else None


def parse_signature(text):
    if not isinstance(text, str) or not SIGNATURE.fullmatch(text):
        return None
    return bytes.fromhex(text[2:] if text[:2] in ("0x", "0X") else text)


def word(value):
    return value.to_bytes(32, "big")


def address_of_point(point):
    return to_hex(keccak256(point.x().to_bytes(32, "big") + point.y().to_bytes(32, "big"))[12:])


def _recover_point(digest, r, s, recovery_id):
    """libsecp256k1's public key recovery; None where it fails."""
    if not (0 < r < ORDER and 0 < s < ORDER and 0 <= recovery_id <= 3):
        return None
    x = r + ORDER if recovery_id & 2 else r
    if x >= FIELD:
        return None
    alpha = (x * x * x + 7) % FIELD
    y = pow(alpha, (FIELD + 1) // 4, FIELD)
    if y * y % FIELD != alpha:
        return None
    if y & 1 != recovery_id & 1:
        y = FIELD - y
    nonce_point = PointJacobi(CURVE, x, y, 1, ORDER)
    e = int.from_bytes(digest, "big") % ORDER
    r_inverse = pow(r, -1, ORDER)
    point = GENERATOR.mul_add((-e * r_inverse) % ORDER, nonce_point, (s * r_inverse) % ORDER)
    return None if point == INFINITY else point


def recover_address(digest, signature):
    """The lower-case address whose key made the 65-byte signature over the 32-byte digest, or None."""
    if signature is None or len(signature) != 65 or len(digest) != 32:
        return None
    v = signature[64]
    point = _recover_point(digest, int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"),
                           v - 27 if v >= 27 else v)
    return None if point is None else address_of_point(point)


class VPodKey:
    """The vPod's secp256k1 key."""

    def __init__(self, secret):
        if not 0 < secret < ORDER:
            raise ValueError("a private key is a non-zero scalar below the curve order")
        self._signing = SigningKey.from_secret_exponent(secret, curve=SECP256k1)
        self.secret = secret
        self.point = GENERATOR * secret
        self.address = address_of_point(self.point)

    def sign(self, digest):
        """RFC 6979 (HMAC-SHA256) signature, normalised to low s: the bytes libsecp256k1 (and so the C# workload) makes."""
        r_bytes, s_bytes = self._signing.sign_digest_deterministic(digest, hashfunc=hashlib.sha256, sigencode=sigencode_strings)
        r, s = int.from_bytes(r_bytes, "big"), int.from_bytes(s_bytes, "big")
        if s > ORDER // 2:
            s = ORDER - s
        for recovery_id in range(4):
            point = _recover_point(digest, r, s, recovery_id)
            if point is not None and point.x() == self.point.x() and point.y() == self.point.y():
                return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + recovery_id])
        raise RuntimeError("the signature recovers to no recovery id of this key")

    def sign_hex(self, digest):
        return to_hex(self.sign(digest))


# ---------------------------------------------------------------------------------------------------------------------
# EIP-712: the vPod domain (identity, training receipts) and the ResultRegistry domain (round results, rotations).
# ---------------------------------------------------------------------------------------------------------------------

def _type_hash(signature):
    return keccak256(signature.encode("ascii"))


VPOD_DOMAIN_TYPE = _type_hash("EIP712Domain(string name,string version,uint256 chainId)")
IDENTITY_TYPE = _type_hash("Identity(string vpod,bytes32 nonce,uint256 chainId)")
RECEIPT_TYPE = _type_hash("TrainingReceipt(string job,uint256 round,string vpod,uint256 sampleCount,bytes32 updateHash)")
REGISTRY_DOMAIN_TYPE = _type_hash("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
FINALIZE_TYPE = _type_hash("FinalizeRound(bytes32 jobId,uint64 round,bytes32 resultHash,bytes32 receiptsRoot,bytes32 modelRef,bytes modelCid)")
ROTATE_TYPE = _type_hash("RotateValidators(address[] validators,uint64 threshold,uint64 nonce)")
SERVER_STATE_TYPE = _type_hash("ServerState(bytes32 jobId,uint64 round,bytes32 resultHash,bytes32 stateHash)")


def typed_digest(domain_separator, struct_hash):
    return keccak256(b"\x19\x01" + domain_separator + struct_hash)


def vpod_domain(chain_id):
    return keccak256(VPOD_DOMAIN_TYPE + keccak256(b"MetaNode vPod") + keccak256(b"2") + word(chain_id))


def identity_digest(vpod_id, nonce, chain_id):
    return typed_digest(vpod_domain(chain_id), keccak256(IDENTITY_TYPE + keccak256(utf8(vpod_id)) + nonce + word(chain_id)))


def receipt_hash(job, round_, vpod, sample_count, update_hash):
    """The receipt's EIP-712 struct hash (ReceiptHashing.Hash); None when it has none (empty text, a negative number, a bad hash)."""
    update = parse_hash(update_hash)
    if not job or not vpod or round_ < 0 or sample_count < 0 or update is None:
        return None
    return keccak256(RECEIPT_TYPE + keccak256(utf8(job)) + word(round_) + keccak256(utf8(vpod)) + word(sample_count) + update)


def registry_domain(chain_id, registry):
    return keccak256(REGISTRY_DOMAIN_TYPE + keccak256(b"MetaNode ResultRegistry") + keccak256(b"1") + word(chain_id)
                     + bytes(12) + bytes.fromhex(registry[2:]))


def job_id_bytes32(job):
    """The job id as the registry's bytes32: its UTF-8 bytes, right-padded with zeros (HexValues.JobIdToBytes32)."""
    if job is None or not job.strip():
        raise BadRequest("job id must not be empty.")
    data = utf8(job)
    if len(data) > 32:
        raise BadRequest(f"job id '{job}' is {len(data)} bytes of UTF-8; the registry stores at most 32.")
    if b"\x00" in data:
        raise BadRequest("job id must not contain NUL characters.")
    return data + bytes(32 - len(data))


def finalize_digest(chain_id, registry, job, round_, result_hash, receipts_root, model_ref, model_cid):
    """The registry's FinalizeRound digest; model_cid is the model's binary CID (36 bytes, or empty for none), hashed as EIP-712 bytes."""
    struct_hash = keccak256(FINALIZE_TYPE + job_id_bytes32(job) + word(round_) + result_hash + receipts_root + model_ref
                            + keccak256(model_cid))
    return typed_digest(registry_domain(chain_id, registry), struct_hash)


def server_state_digest(chain_id, registry, job, round_, result_hash, state_hash):
    """The registry domain's ServerState digest: the server optimizer's state after the round, bound to the round's result."""
    struct_hash = keccak256(SERVER_STATE_TYPE + job_id_bytes32(job) + word(round_) + result_hash + state_hash)
    return typed_digest(registry_domain(chain_id, registry), struct_hash)


def rotation_digest(chain_id, registry, validators, threshold, nonce):
    packed = b"".join(bytes(12) + bytes.fromhex(v[2:]) for v in validators)
    struct_hash = keccak256(ROTATE_TYPE + keccak256(packed) + word(threshold) + word(nonce))
    return typed_digest(registry_domain(chain_id, registry), struct_hash)


# ---------------------------------------------------------------------------------------------------------------------
# The key directory: the vPod's key file and the validator's record of what it signed.
# ---------------------------------------------------------------------------------------------------------------------

class KeyFileError(Exception):
    """The key file cannot be used: the workload exits 2 with the message."""


def _fsync_directory(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(directory, name, data, mode=0o644):
    """Writes directory/name through a temporary file: write, fsync, rename (a reader sees the old file or the whole new one)."""
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, os.path.join(directory, name))
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_new(directory, name, data, mode):
    """Writes directory/name through a flushed temporary file and a hard link, which never replaces an existing file; False when
    the file exists already."""
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(temporary, os.path.join(directory, name))
        except FileExistsError:
            return False
        _fsync_directory(directory)
        return True
    finally:
        os.unlink(temporary)


def load_or_create_key(key_dir):
    """Reads {key_dir}/vpod-key.json, or creates the directory (0700) and a new random key (0600) when the file is missing."""
    path = os.path.join(key_dir, KEY_FILE)
    if not os.path.exists(path):
        try:
            os.makedirs(key_dir, mode=0o700, exist_ok=True)
            while True:
                secret = int.from_bytes(os.urandom(32), "big")
                if 0 < secret < ORDER:
                    break
            key = VPodKey(secret)
            text = json.dumps({"address": key.address, "privateKey": "0x" + secret.to_bytes(32, "big").hex()}, separators=(",", ":")) + "\n"
            if write_new(key_dir, KEY_FILE, text.encode("ascii"), mode=0o600):
                return key, True
        except OSError as e:
            raise KeyFileError(f"cannot create the vPod key in {key_dir} (METANODE_KEY_DIR): {e}")
        # Another process created the key first: the vPod has one key, theirs.
    try:
        with open(path, "rb") as f:
            document = json.loads(f.read().decode("utf-8"))
    except OSError as e:
        raise KeyFileError(f"cannot read {path}: {e}")
    except ValueError as e:
        raise KeyFileError(f"{path} is not valid JSON ({e}); restore it from a backup: a new key would give the vPod a new address.")
    if not isinstance(document, dict):
        raise KeyFileError(f"{path} must hold a JSON object {{\"address\": \"0x…\", \"privateKey\": \"0x…\"}}.")
    address, private_key = document.get("address"), document.get("privateKey")
    if not isinstance(private_key, str) or not PRIVATE_KEY.fullmatch(private_key):
        raise KeyFileError(f"{path} has no \"privateKey\" of 0x and 64 hex digits.")
    try:
        key = VPodKey(int(private_key[2:], 16))
    except ValueError:
        raise KeyFileError(f"{path}: privateKey is not a valid secp256k1 key (zero or not below the curve order).")
    if not isinstance(address, str) or address.lower() != key.address:
        raise KeyFileError(f"{path} says address '{address}', but its private key's address is {key.address}; "
                           "the file was altered: restore it from a backup (a new key would give the vPod a new address).")
    return key, False


class SignedRounds:
    """The validator's equivocation guard, signed-rounds.jsonl: one {"chainId","registry","job","round","digest"} a line, the digest
    signed for each (chain, registry, job, round). A digest is appended and flushed to disk before its signature is returned, and
    another digest for a round already signed is refused. Requests are serialised in the process by a lock and across processes by
    flock(LOCK_EX), the lock the C# workload's exclusive FileStream takes on Linux."""

    def __init__(self, key_dir):
        self.path = os.path.join(key_dir, SIGNED_ROUNDS_FILE)
        self.lock = threading.Lock()

    def _damaged(self, number):
        return Conflict(f"The validator's signed-rounds log '{self.path}' is damaged at line {number}: it will not sign until the file "
                        "is repaired (restore it from a backup; never delete it, or the validator could sign two results for a round).")

    @staticmethod
    def _parse(line):
        """The record on one line, or None when the line is not one."""
        try:
            record = json.loads(line, parse_constant=_refuse_constant)
            chain_id, round_ = record.get("chainId", 0), record.get("round", 0)
            job, registry, digest = record.get("job"), record.get("registry"), record.get("digest")
        except (ValueError, AttributeError):
            return None
        if not (is_int(chain_id) and is_int(round_) and isinstance(job, str) and isinstance(registry, str) and isinstance(digest, str)):
            return None
        return (chain_id, registry.lower(), job, round_, digest.lower())

    def _records(self, data):
        """Every complete record; the last line, cut short by a crash before any answer, signed nothing and is skipped."""
        lines = data.decode("utf-8", "replace").split("\n")
        records = []
        for number, line in enumerate(lines, start=1):
            line = line.strip()
            if not line:
                continue
            record = self._parse(line)
            if record is None:
                if number == len(lines):
                    continue
                raise self._damaged(number)
            records.append(record)
        return records

    def admit(self, chain_id, registry, job, round_, digest):
        """Records that the digest is signed for its round; 409 when the round was signed with another digest (nothing is written)."""
        digest_hex = to_hex(digest)
        with self.lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                chunks = []
                while True:
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        break
                    chunks.append(chunk)
                data = b"".join(chunks)
                for signed in self._records(data):
                    if signed[:4] == (chain_id, registry.lower(), job, round_):
                        if signed[4] == digest_hex:
                            return
                        raise Conflict(f"this validator already signed another result for job {job} round {round_} on registry "
                                       f"{registry.lower()} (digest {signed[4]}): it signs one result per round")
                line = json.dumps({"chainId": chain_id, "registry": registry.lower(), "job": job, "round": round_, "digest": digest_hex},
                                  separators=(",", ":")) + "\n"
                # A last line without its newline is a whole record (its newline follows now) or a torn append (a crash mid-append,
                # before any answer), which signed nothing and is cut off rather than left as a damaged line between records.
                tail_start = data.rfind(b"\n") + 1
                tail = data[tail_start:]
                prefix = b""
                if tail.strip() and self._parse(tail.decode("utf-8", "replace").strip()) is not None:
                    prefix = b"\n"
                elif tail:
                    os.ftruncate(fd, tail_start)
                os.lseek(fd, 0, os.SEEK_END)
                os.write(fd, prefix + line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)


# ---------------------------------------------------------------------------------------------------------------------
# The partition and local learning (the protocol's reference algorithm, operation for operation).
# ---------------------------------------------------------------------------------------------------------------------

class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def shuffle(self, values):
        for i in range(len(values) - 1, 0, -1):
            j = self.next() % (i + 1)
            values[i], values[j] = values[j], values[i]


CSV_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class Partition:
    """Reads manifest.json and <split>.csv; keeps each split until its file changes."""

    def __init__(self, path):
        self.path = path
        self.cache = {}
        self.lock = threading.Lock()

    def _manifest(self):
        """(features, classes, splits) of manifest.json; 409 when it is missing or malformed."""
        manifest_path = os.path.join(self.path, "manifest.json")
        if not os.path.isfile(manifest_path):
            raise Conflict(f"The data directory '{self.path}' has no manifest.json: no partition was placed in this vPod yet.")
        try:
            with open(manifest_path, "rb") as f:
                manifest = json.loads(f.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise Conflict(f"{manifest_path} is not valid JSON: {e}")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise Conflict(f"{manifest_path} has format '{manifest.get('format') if isinstance(manifest, dict) else None}'; this workload reads '{FORMAT}'.")
        features, classes, splits = manifest.get("features"), manifest.get("classes"), manifest.get("splits")
        if not is_int(features) or not is_int(classes) or features < 1 or classes < 1 or not isinstance(splits, dict):
            raise Conflict(f"{manifest_path} must give features >= 1, classes >= 1 and splits; got features {features}, classes {classes}.")
        return features, classes, splits

    def has_split(self, split):
        """True when a manifest is placed and names the split (its file is checked only when the split is loaded)."""
        return os.path.isfile(os.path.join(self.path, "manifest.json")) and split in self._manifest()[2]

    def load(self, split):
        features, classes, splits = self._manifest()
        if split not in splits or not isinstance(splits[split], dict):
            raise Conflict(f"The data directory '{self.path}' holds no '{split}' split (it has: {', '.join(sorted(splits))}).")
        name, expected_rows = splits[split].get("file") or "", splits[split].get("rows", 0)
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
            raise Conflict(f"manifest.json in '{self.path}': split '{split}' names file '{name}'; it must be a plain file name.")
        file = os.path.join(self.path, name)
        if not os.path.isfile(file):
            raise Conflict(f"The '{split}' split file '{file}' does not exist.")
        stat = os.stat(file)
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size, features, classes)
        with self.lock:
            cached = self.cache.get(split)
            if cached and cached[0] == key:
                return cached[1]
        rows, labels = [], []
        with open(file, "r", encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                line = line.rstrip("\n")
                if not line:
                    continue
                fields = [field.strip() for field in line.split(",")]
                if len(fields) != features + 1:
                    raise Conflict(f"{file} line {number}: {len(fields)} columns; expected {features} features and a label.")
                row = []
                for column, text in enumerate(fields[:-1], start=1):
                    value = float(text) if CSV_NUMBER.fullmatch(text) else math.nan
                    if not math.isfinite(value):
                        raise Conflict(f"{file} line {number}, column {column}: '{text}' is not a finite number.")
                    row.append(value)
                label = fields[-1]
                if not re.fullmatch(r"[0-9]+", label) or int(label) >= classes:
                    raise Conflict(f"{file} line {number}, column {features + 1}: label '{label}' is not an integer from 0 to {classes - 1}.")
                rows.append(row)
                labels.append(int(label))
        if is_int(expected_rows) and expected_rows >= 0 and len(labels) != expected_rows:
            raise Conflict(f"{file} holds {len(labels)} rows; manifest.json says {expected_rows}.")
        loaded = {"name": split, "features": features, "classes": classes, "rows": rows, "labels": labels}
        with self.lock:
            self.cache[split] = (key, loaded)
        return loaded


def split_name(requested, fallback):
    if requested in (None, ""):
        return fallback
    if requested not in SPLITS:
        raise BadRequest(f"split '{requested}' is unknown: use 'train' or 'test'.")
    return requested


def model_of(body, name, what=None):
    """A model field as JSON gives it, (classes, features, weights or None, bias or None), or None when absent; 400 for a value of
    the wrong JSON type (checked before anything else, as the C# workload's deserializer does)."""
    what = what or name
    model = get_object(body, name, what)
    if model is None:
        return None
    return (get_int(model, "classes", what=f"{what}.classes"), get_int(model, "features", what=f"{what}.features"),
            get_doubles(model, "weights", f"{what}.weights"), get_doubles(model, "bias", f"{what}.bias"))


def read_model(model, what="model"):
    """(classes, features, parameters: weights class-major then biases) of a model read by model_of; 400 when malformed."""
    if model is None:
        raise BadRequest(f"{what} is missing.")
    classes, features, weights, bias = model
    weights, bias = weights or [], bias or []
    if classes < 1 or features < 1:
        raise BadRequest(f"{what} is {classes} classes x {features} features; both must be at least 1.")
    if len(weights) != classes * features:
        raise BadRequest(f"{what}.weights has {len(weights)} values; expected classes x features = {classes * features}.")
    if len(bias) != classes:
        raise BadRequest(f"{what}.bias has {len(bias)} values; expected one per class ({classes}).")
    return classes, features, weights + bias


def local_model(model, data):
    """The request's model as (weights as class rows, bias) for the local data; 400 when its shape or values do not fit."""
    classes, features, parameters = read_model(model)
    if classes != data["classes"] or features != data["features"]:
        raise BadRequest(f"model is {classes} classes x {features} features; the local data has {data['classes']} classes and {data['features']} features.")
    for i, value in enumerate(parameters):
        if not math.isfinite(value):
            raise BadRequest(f"model parameter {i} is not a finite number.")
    weights = [parameters[k * features:(k + 1) * features] for k in range(classes)]
    return weights, parameters[classes * features:]


def standardization_of(body):
    """The request's standardization as (mean or None, scale or None), or None; 400 for a value of the wrong JSON type."""
    standardization = get_object(body, "standardization")
    if standardization is None:
        return None
    return get_doubles(standardization, "mean", "standardization.mean"), get_doubles(standardization, "scale", "standardization.scale")


def check_standardization(standardization, features):
    """(mean, scale) for the split, or None; 400 unless both hold one finite value per feature and every scale is positive."""
    if standardization is None:
        return None
    mean, scale = standardization
    if mean is None or scale is None or len(mean) != features or len(scale) != features:
        raise BadRequest(f"standardization.mean and standardization.scale must each hold {features} values; "
                         f"got {len(mean or [])} and {len(scale or [])}.")
    for j in range(features):
        if not math.isfinite(mean[j]) or not math.isfinite(scale[j]) or scale[j] <= 0:
            raise BadRequest(f"standardization for feature {j} (mean '{mean[j]}', scale '{scale[j]}') must be finite with a positive scale.")
    return mean, scale


def standardized(data, standardization):
    rows = data["rows"]
    if standardization is None:
        return [list(r) for r in rows]
    mean, scale = standardization
    return [[(x - m) / s for x, m, s in zip(r, mean, scale)] for r in rows]


def logits(weights, bias, x):
    # z[k] = b[k] + sum_j w[k][j] * x[j], accumulated from the bias in feature order.
    out = []
    for row, b in zip(weights, bias):
        z = b
        for w, v in zip(row, x):
            z += w * v
        out.append(z)
    return out


def train(weights, bias, xs, labels, epochs, batch_size, learning_rate, seed, proximal_mu=0.0):
    """Mini-batch SGD in place; with proximal_mu > 0 each step also pulls the model towards the one it started from (FedProx):
    w <- w - (step * g + prox * (w - w0)), prox = learning_rate * mu. With mu = 0 the step is the plain w <- w - step * g."""
    classes, features, n = len(bias), len(weights[0]), len(labels)
    order = list(range(n))
    proximal = proximal_mu != 0.0
    if proximal:
        prox = learning_rate * proximal_mu
        anchor_weights, anchor_bias = [list(row) for row in weights], list(bias)
    rng = SplitMix64(seed)
    steps = 0
    for _ in range(epochs):
        rng.shuffle(order)
        for start in range(0, n, batch_size):
            end = min(start + batch_size, n)
            grad_w = [[0.0] * features for _ in range(classes)]
            grad_b = [0.0] * classes
            for position in range(start, end):
                row = order[position]
                x = xs[row]
                p = logits(weights, bias, x)
                m = p[0]
                for k in range(1, classes):
                    if p[k] > m:
                        m = p[k]
                s = 0.0
                for k in range(classes):
                    p[k] = math.exp(p[k] - m)
                    s += p[k]
                for k in range(classes):
                    p[k] /= s
                p[labels[row]] -= 1.0
                for k in range(classes):
                    g = p[k]
                    gw = grad_w[k]
                    for j in range(features):
                        gw[j] += g * x[j]
                    grad_b[k] += g
            step = learning_rate / (end - start)
            if proximal:
                for k in range(classes):
                    w, gw, w0 = weights[k], grad_w[k], anchor_weights[k]
                    for j in range(features):
                        w[j] = w[j] - (step * gw[j] + prox * (w[j] - w0[j]))
                for k in range(classes):
                    bias[k] = bias[k] - (step * grad_b[k] + prox * (bias[k] - anchor_bias[k]))
            else:
                for k in range(classes):
                    w, gw = weights[k], grad_w[k]
                    for j in range(features):
                        w[j] -= step * gw[j]
                for k in range(classes):
                    bias[k] -= step * grad_b[k]
            steps += 1
    return steps


def evaluate(weights, bias, xs, labels):
    n = len(labels)
    if n == 0:
        return 0.0, 0.0
    total, correct = 0.0, 0
    for x, y in zip(xs, labels):
        z = logits(weights, bias, x)
        m, best = z[0], 0
        for k in range(1, len(z)):
            if z[k] > m:
                m, best = z[k], k
        s = 0.0
        for v in z:
            s += math.exp(v - m)
        total += math.log(s) - (z[y] - m)
        if best == y:
            correct += 1
    return total / n, correct / n


# ---------------------------------------------------------------------------------------------------------------------
# Federation: canonical model encoding, receipts' Merkle root, aggregation rules and the validator's round aggregation
# (RoundAggregator, ModelAggregation, UpdateScreening), with the floating-point operations in the C# order.
# ---------------------------------------------------------------------------------------------------------------------

def encode_model(classes, features, parameters):
    """The canonical bytes: "MNM1", uint32 classes, uint32 features (little-endian), then float64 parameters (little-endian)."""
    return b"MNM1" + struct.pack(f"<II{len(parameters)}d", classes, features, *parameters)


def model_hash(classes, features, parameters):
    """0x + keccak-256 of the canonical encoding; None for a model with a value that is not finite (it has no encoding)."""
    if not all(math.isfinite(v) for v in parameters):
        return None
    return to_hex(keccak256(encode_model(classes, features, parameters)))


def merkle_root(leaves):
    """Sorted 32-byte leaves, neighbours hashed as keccak(min || max), an odd last node carried up unchanged."""
    level = sorted(leaves)
    for a, b in zip(level, level[1:]):
        if a == b:
            raise BadRequest(f"receipt hash {to_hex(a)} appears twice.")
    while len(level) > 1:
        following = [keccak256(min(level[i], level[i + 1]) + max(level[i], level[i + 1])) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2 == 1:
            following.append(level[-1])
        level = following
    return level[0]


def total_order(value):
    """The sort key of a finite double in IEEE 754 total order: -0.0 before 0.0, so that a median is the same bits whatever
    sorting algorithm produced the column."""
    return (value, math.copysign(1.0, value))


class AggregationRule:
    """none (weighted FedAvg), median, or trimmed-mean:F with 0 <= F < 0.5; the robust two also screen outliers."""

    def __init__(self, kind, fraction=0.0):
        self.kind, self.fraction = kind, fraction

    @property
    def robust(self):
        return self.kind != "none"

    @staticmethod
    def parse(text):
        value = (text or "").strip()
        if value == "" or value.lower() == "none":
            return AggregationRule("none")
        if value.lower() == "median":
            return AggregationRule("median")
        prefix = "trimmed-mean:"
        if value.lower().startswith(prefix):
            fraction_text = value[len(prefix):]
            if DOTNET_FLOAT.fullmatch(fraction_text):
                fraction = float(fraction_text.strip())
                if 0 <= fraction < 0.5:
                    return AggregationRule("trimmed-mean", fraction)
            raise BadRequest(f"aggregation '{text}': the trimmed fraction '{fraction_text}' must be a number from 0 up to (not including) 0.5, e.g. trimmed-mean:0.1.")
        raise BadRequest(f"aggregation '{text}' is unknown: use none, median or trimmed-mean:F (e.g. trimmed-mean:0.1).")


def federated_average(models):
    """(sum of n_u * v_u[i]) / (sum of n_u), summed in canonical (ordinal vPod id) order; models are (vpod, samples, parameters)."""
    result = [0.0] * len(models[0][2])
    total = 0
    for _, samples, parameters in models:
        total += samples
        weight = float(samples)
        for i in range(len(result)):
            result[i] += weight * parameters[i]
    denominator = float(total)
    for i in range(len(result)):
        result[i] /= denominator
    return result


def coordinatewise(models, combine):
    result = [0.0] * len(models[0][2])
    for i in range(len(result)):
        column = sorted((parameters[i] for _, _, parameters in models), key=total_order)
        result[i] = combine(column)
    return result


def median_of(column):
    middle = len(column) // 2
    return column[middle] if len(column) % 2 == 1 else (column[middle - 1] + column[middle]) / 2


def trimmed_mean_of(fraction):
    def combine(column):
        trim = math.floor(fraction * len(column))
        total = 0.0
        for i in range(trim, len(column) - trim):
            total += column[i]
        return total / (len(column) - 2 * trim)
    return combine


def distance(a, b):
    total = 0.0
    for x, y in zip(a, b):
        d = x - y
        total += d * d
    return math.sqrt(total)


def screen(global_parameters, models, max_ratio=5.0):
    """Robust rules: with 3 or more updates, reject those farther from the global model than max_ratio x the median distance."""
    if len(models) < 3:
        return models, []
    distances = [distance(parameters, global_parameters) for _, _, parameters in models]
    ordered = sorted(distances)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 == 1 else (ordered[middle - 1] + ordered[middle]) / 2
    limit = max_ratio * median
    accepted, rejected = [], []
    for model, d in zip(models, distances):
        if d > limit:
            rejected.append((model[0], f"update norm {d:.6g} is more than {max_ratio:.3g}× the median norm {median:.6g}"))
        else:
            accepted.append(model)
    return accepted, rejected


def check_update(job, round_, chain_id, global_shape, participant, update, computed_hash):
    """Why one copy of an update is invalid, or None (RoundAggregator.Check)."""
    receipt, model = update["receipt"], update["model"]
    if receipt["job"] != job or receipt["round"] != round_:
        return f"receipt is for job '{receipt['job']}' round {receipt['round']}, not job '{job}' round {round_}"
    if receipt["sampleCount"] != participant["assignedSamples"]:
        return f"receipt claims {receipt['sampleCount']} samples; the job placed {participant['assignedSamples']} rows with this vPod"
    if model is None or model[:2] != global_shape:
        shape = "missing" if model is None else f"{model[0]}x{model[1]}"
        return f"model is {shape}; the global model is {global_shape[0]}x{global_shape[1]}"
    if computed_hash is None:
        return "model holds a value that is not finite"
    if computed_hash != (receipt["updateHash"] or "").lower():
        return f"receipt says update hash {receipt['updateHash']}, the model hashes to {computed_hash}"
    struct_hash = receipt_hash(receipt["job"], receipt["round"], receipt["vpod"], receipt["sampleCount"], receipt["updateHash"])
    signer = None if struct_hash is None else recover_address(typed_digest(vpod_domain(chain_id), struct_hash), parse_signature(receipt["signature"]))
    if signer is None or signer != participant["address"].lower():
        return "receipt signature does not recover to the vPod's admitted address"
    return None


def aggregate_round(job, round_, chain_id, global_model, rule, participants, updates):
    """The validator's verify-then-aggregate (RoundAggregator.Aggregate): returns (model parameters or None, participants,
    total samples, receipts root, rejected [(vpod, reason)])."""
    by_id = {}
    for participant in participants:
        if participant["vpodId"] in by_id:
            raise BadRequest(f"vPod '{participant['vpodId']}' is listed twice among the round's participants.")
        by_id[participant["vpodId"]] = participant
    copies = {}
    for update in updates:
        copies.setdefault(update["receipt"]["vpod"], []).append(update)

    rejected = [(vpod, f"vPod '{vpod}' is not a participant of job '{job}' round {round_}")
                for vpod in sorted((v for v in copies if v not in by_id), key=ordinal_key)]
    candidates = []
    global_shape = global_model[:2]
    for vpod in sorted(by_id, key=ordinal_key):
        participant = by_id[vpod]
        received = copies.get(vpod)
        if not received:
            rejected.append((vpod, "no update was received"))
            continue
        # Each copy is checked before copies are compared: a forged copy that arrived first cannot stand in for the real one.
        checked = []
        for update in received:
            model = update["model"]
            computed = None if model is None else model_hash(*model)
            checked.append((update, computed, check_update(job, round_, chain_id, global_shape, participant, update, computed)))
        valid, seen = [], set()
        for update, computed, reason in checked:
            r = update["receipt"]
            identity = (r["job"], r["round"], r["vpod"], r["sampleCount"], r["updateHash"], computed)
            if reason is None and identity not in seen:
                seen.add(identity)
                valid.append(update)
        if len(valid) > 1:
            rejected.append((vpod, f"signed {len(valid)} different updates for round {round_}"))
        elif not valid:
            rejected.append((vpod, checked[0][2]))
        else:
            r = valid[0]["receipt"]
            candidates.append((vpod, valid[0]["model"][2], receipt_hash(r["job"], r["round"], r["vpod"], r["sampleCount"], r["updateHash"])))

    weighted = [(vpod, by_id[vpod]["assignedSamples"], parameters) for vpod, parameters, _ in candidates]
    accepted = weighted
    if rule.robust and weighted:
        accepted, screened_out = screen(global_model[2], weighted)
        rejected.extend(screened_out)
    rejected.sort(key=lambda r: ordinal_key(r[0]))
    if not accepted:
        return None, [], 0, None, rejected

    if rule.kind == "none":
        parameters = federated_average(accepted)
    elif rule.kind == "median":
        parameters = coordinatewise(accepted, median_of)
    else:
        parameters = coordinatewise(accepted, trimmed_mean_of(rule.fraction))
    included = [vpod for vpod, _, _ in accepted]
    included_set = set(included)
    root = merkle_root([leaf for vpod, _, leaf in candidates if vpod in included_set])
    total = 0
    for _, samples, _ in accepted:
        total += samples
    return parameters, included, total, root, rejected


# ---------------------------------------------------------------------------------------------------------------------
# The server optimizer: one FedAvgM or FedAdam step on the averaged delta d = r - g (Reddi et al., "Adaptive Federated
# Optimization"), its state's canonical encoding ("MNS1") and hash.
# ---------------------------------------------------------------------------------------------------------------------

SERVER_OPTIMIZER_KINDS = {"avgm": 1, "adam": 2}
SERVER_OPTIMIZER_FIELDS = ("learningRate", "momentum", "beta2", "tau")
MAX_SERVER_LEARNING_RATE = 100.0


def server_optimizer_of(body):
    """The request's serverOptimizer and optimizerState as JSON gives them (None when absent); 400 for a value of the wrong JSON
    type, checked with the other fields before anything else."""
    optimizer = get_object(body, "serverOptimizer")
    if optimizer is not None:
        optimizer = {"kind": get_string(optimizer, "kind", "serverOptimizer.kind"),
                     **{name: get_optional_double(optimizer, name, f"serverOptimizer.{name}") for name in SERVER_OPTIMIZER_FIELDS}}
    state = get_object(body, "optimizerState")
    if state is not None:
        state = {"momentum": get_doubles(state, "momentum", "optimizerState.momentum"),
                 "secondMoment": get_doubles(state, "secondMoment", "optimizerState.secondMoment")}
    return optimizer, state


def _state_vector(values, n, name, non_negative):
    if values is None:
        raise BadRequest(f"{name} is missing: the state holds {n} values, one per model parameter.")
    if len(values) != n:
        raise BadRequest(f"{name} has {len(values)} values; the model has classes x (features + 1) = {n} parameters.")
    for i, value in enumerate(values):
        if not math.isfinite(value) or (non_negative and value < 0):
            raise BadRequest(f"{name}[{i}] '{value}' must be a finite number{', at least 0' if non_negative else ''}.")
    return list(values)


def check_server_optimizer(optimizer, state, n):
    """The checked server optimizer for a model of n parameters: None for plain averaging (no serverOptimizer, or kind avg),
    else {"kind", "code", "eta", "beta1", "beta2", "tau", "m", "v"} with the starting state (zeros without optimizerState);
    400 naming the field."""
    if optimizer is None:
        if state is not None:
            raise BadRequest("optimizerState is given without a serverOptimizer: plain averaging keeps no state.")
        return None
    kind = optimizer["kind"]
    if kind == "avg":
        for name in SERVER_OPTIMIZER_FIELDS:
            if optimizer[name] is not None:
                raise BadRequest(f"serverOptimizer.{name} is given for kind 'avg', which takes no settings.")
        if state is not None:
            raise BadRequest("optimizerState is given for serverOptimizer kind 'avg', which keeps no state.")
        return None
    if kind not in SERVER_OPTIMIZER_KINDS:
        raise BadRequest(f"serverOptimizer.kind '{kind}' is unknown: use avg, avgm or adam.")

    def rate(name):
        value = optimizer[name]
        if value is None or not math.isfinite(value) or value <= 0 or value > MAX_SERVER_LEARNING_RATE:
            raise BadRequest(f"serverOptimizer.{name} '{value}' must be a finite number above 0 and at most {MAX_SERVER_LEARNING_RATE:g}.")
        return value

    def decay(name):
        value = optimizer[name]
        if value is None or not math.isfinite(value) or not 0 <= value < 1:
            raise BadRequest(f"serverOptimizer.{name} '{value}' must be a finite number from 0 up to (not including) 1.")
        return value

    eta = rate("learningRate")
    beta1 = decay("momentum")
    if kind == "avgm":
        for name in ("beta2", "tau"):
            if optimizer[name] is not None:
                raise BadRequest(f"serverOptimizer.{name} is given for kind 'avgm', which takes only learningRate and momentum.")
        beta2 = tau = 0.0
    else:
        beta2 = decay("beta2")
        tau = optimizer["tau"]
        if tau is None or not math.isfinite(tau) or not 0 < tau <= 1:
            raise BadRequest(f"serverOptimizer.tau '{tau}' must be a finite number above 0 and at most 1.")
    m, v = [0.0] * n, ([0.0] * n if kind == "adam" else None)
    if state is not None:
        m = _state_vector(state["momentum"], n, "optimizerState.momentum", False)
        if kind == "adam":
            v = _state_vector(state["secondMoment"], n, "optimizerState.secondMoment", True)
        elif state["secondMoment"] is not None:
            raise BadRequest("optimizerState.secondMoment is given for serverOptimizer kind 'avgm', which keeps only a momentum.")
    return {"kind": kind, "code": SERVER_OPTIMIZER_KINDS[kind], "eta": eta, "beta1": beta1, "beta2": beta2, "tau": tau, "m": m, "v": v}


def server_step(optimizer, global_parameters, parameters):
    """One server step on the aggregate r (parameters) from the global model g, each operation rounded in the protocol's order:
    (x, m, v), v None for avgm; 409 when a value is not finite (the step diverged)."""
    g, r = global_parameters, parameters
    n = len(g)
    eta, m = optimizer["eta"], list(optimizer["m"])
    x = [0.0] * n
    v = None
    if optimizer["kind"] == "avgm":
        beta = optimizer["beta1"]
        for i in range(n):
            d = r[i] - g[i]
            m[i] = beta * m[i] + d
            x[i] = g[i] + eta * m[i]
    else:
        beta1, beta2, tau = optimizer["beta1"], optimizer["beta2"], optimizer["tau"]
        one_minus_b1 = 1.0 - beta1
        one_minus_b2 = 1.0 - beta2
        v = list(optimizer["v"])
        for i in range(n):
            d = r[i] - g[i]
            m[i] = beta1 * m[i] + one_minus_b1 * d
            v[i] = beta2 * v[i] + one_minus_b2 * (d * d)
            root = math.sqrt(v[i]) if v[i] >= 0 else math.nan
            x[i] = g[i] + (eta * m[i]) / (root + tau)
    for name, values in (("model", x), ("momentum", m), ("second moment", v or [])):
        for i, value in enumerate(values):
            if not math.isfinite(value):
                raise Conflict(f"the server's {optimizer['kind']} step diverged: its {name} value {i} is not finite; nothing is signed.")
    return x, m, v


def encode_server_state(optimizer, m, v):
    """The state's canonical bytes: "MNS1", uint32 kind (1 avgm, 2 adam), uint32 n, float64 eta, beta1, beta2, tau, then n float64
    momentum values and, for adam, n float64 second-moment values, all little-endian."""
    values = m + (v if v is not None else [])
    return b"MNS1" + struct.pack(f"<II4d{len(values)}d", optimizer["code"], len(m), optimizer["eta"], optimizer["beta1"],
                                 optimizer["beta2"], optimizer["tau"], *values)


# ---------------------------------------------------------------------------------------------------------------------
# Secure aggregation (SecAgg with the SecAgg+ neighbour graph): the deterministic parts, bit for bit as the C# library
# (src/Protocol/Federation/SecureAggregation) computes them, and the P-256, HKDF, AES-GCM and Shamir pieces around them.
# ---------------------------------------------------------------------------------------------------------------------

SECAGG_CLIP = 8.0
SECAGG_LEVELS = 1 << 22
SECAGG_SCALE = (SECAGG_LEVELS - 1) / (2 * SECAGG_CLIP)
SECAGG_MAX_PARTICIPANTS = 1024
SECAGG_FULL_GRAPH = 40
UINT32_MASK = (1 << 32) - 1
SHAMIR_PRIME = (1 << 521) - 1
SHAMIR_SHARE_BYTES = 66
SELF_MASK_KIND = "self-mask"
MASK_KEY_KIND = "mask-key"
MASK_INFO = "metanode/secagg/mask/1"
SHARE_INFO = "metanode/secagg/share/1"
GRAPH_PURPOSE = "secagg-graph"
QUANTIZE_PURPOSE = "secagg-quantize"
SECAGG_DIR = "secagg"
SHARE_HEX = re.compile(r"0x[0-9a-fA-F]{132}")
P256_KEY_HEX = re.compile(r"0[xX]04[0-9a-fA-F]{128}")
CIPHERTEXT_HEX = re.compile(r"0[xX](?:[0-9a-fA-F]{2})+")
HEX_BYTES = re.compile(r"0[xX](?:[0-9a-fA-F]{2})*")

P256_CURVE = NIST256p.curve
P256_GENERATOR = NIST256p.generator
P256_ORDER = NIST256p.order
P256_FIELD = P256_CURVE.p()

SECAGG_KEYS_TYPE = _type_hash("SecAggKeys(string job,uint256 round,string vpod,bytes cipherKey,bytes maskKey)")
SECAGG_SURVIVORS_TYPE = _type_hash("SecAggSurvivors(string job,uint256 round,string vpod,bytes32 survivors)")
SECAGG_REVEAL_TYPE = _type_hash("SecAggReveal(string job,uint256 round,string vpod,bytes32 shares)")


def derive_seed(job_seed, purpose, round_=0, vpod_id=""):
    """FederatedSeeds.Derive: the first 8 bytes (big-endian) of keccak256("metanode/seed/{purpose}/{jobSeed}/{round}/{vpodId}"),
    masked to 53 bits."""
    text = f"metanode/seed/{purpose}/{job_seed}/{round_}/{vpod_id}"
    return int.from_bytes(keccak256(utf8(text))[:8], "big") & MAX_SEED


def ceil_log2(n):
    return (n - 1).bit_length() if n > 1 else 0


def neighbourhood_size(n):
    """d: every participant when n <= 40, else max(40, n/2 + 1 + 2 ceil(log2 n)), made odd-compatible when n is odd."""
    if n <= SECAGG_FULL_GRAPH:
        return n
    d = max(SECAGG_FULL_GRAPH, n // 2 + 1 + 2 * ceil_log2(n))
    if (d - 1) % 2 == 1 and n % 2 == 1:
        d += 1
    return d


def neighbour_graph(n, d, job_seed, round_):
    """N(v) for v = 0 … n-1 as sets of indices, each holding v itself: the complete graph when d = n, else the circle of a
    Fisher–Yates order (SplitMix64 seeded Derive(jobSeed, "secagg-graph", round)) where positions 1 … h = (d-1)/2 apart, and
    n/2 apart when d - 1 is odd, are neighbours."""
    if d >= n:
        everyone = set(range(n))
        return [everyone for _ in range(n)]
    order = list(range(n))
    SplitMix64(derive_seed(job_seed, GRAPH_PURPOSE, round_)).shuffle(order)
    half = (d - 1) // 2
    graph = []
    position = [0] * n
    for place, v in enumerate(order):
        position[v] = place
    for v in range(n):
        p = position[v]
        near = {v}
        for k in range(1, half + 1):
            near.add(order[(p + k) % n])
            near.add(order[(p - k) % n])
        if (d - 1) % 2 == 1:
            near.add(order[(p + n // 2) % n])
        graph.append(near)
    return graph


def prg_words(seed, count):
    """PRG(seed): word j is the little-endian uint32 at byte 4 (j mod 8) of SHA-256(seed || uint64-LE(j / 8))."""
    words = []
    block = 0
    while len(words) < count:
        words.extend(struct.unpack("<8I", hashlib.sha256(seed + struct.pack("<Q", block)).digest()))
        block += 1
    del words[count:]
    return words


def hkdf(secret, info):
    """HKDF-SHA256 (RFC 5869) with an empty salt (32 zero bytes), 32 bytes of output."""
    prk = hmac.new(bytes(32), secret, hashlib.sha256).digest()
    return hmac.new(prk, utf8(info) + b"\x01", hashlib.sha256).digest()


def p256_public_bytes(point):
    return b"\x04" + point.x().to_bytes(32, "big") + point.y().to_bytes(32, "big")


def p256_public_of(secret):
    return P256_GENERATOR * secret


def p256_parse_public(text):
    """A public key 0x04 || X || Y (hex) as a curve point, or None when it is not one."""
    if not isinstance(text, str) or not P256_KEY_HEX.fullmatch(text):
        return None
    raw = bytes.fromhex(text[2:])
    x, y = int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big")
    if x >= P256_FIELD or y >= P256_FIELD or not P256_CURVE.contains_point(x, y):
        return None
    return PointJacobi(P256_CURVE, x, y, 1, P256_ORDER)


def p256_new_secret():
    return 1 + secrets.randbelow(P256_ORDER - 1)


def ecdh(secret, point):
    """The 32-byte X coordinate of secret · point."""
    shared = point * secret
    if shared == INFINITY:
        raise ValueError("the shared point is at infinity")
    return shared.x().to_bytes(32, "big")


def shamir_share(secret, threshold, xs):
    """Shares of the 32-byte secret (a big-endian integer) for the given points x (f(x) of a random polynomial of degree
    threshold - 1 over p = 2^521 - 1, coefficients drawn uniformly by rejection), as 66-byte big-endian values."""
    coefficients = [int.from_bytes(secret, "big")]
    for _ in range(threshold - 1):
        while True:
            a = secrets.randbits(521)
            if a < SHAMIR_PRIME:
                break
        coefficients.append(a)
    shares = {}
    for x in xs:
        y = 0
        for a in reversed(coefficients):
            y = (y * x + a) % SHAMIR_PRIME
        shares[x] = y.to_bytes(SHAMIR_SHARE_BYTES, "big")
    return shares


def shamir_reconstruct(points):
    """f(0) by Lagrange interpolation of [(x, y)], or None when it is not a 32-byte secret (>= 2^256)."""
    secret = 0
    for i, (xi, yi) in enumerate(points):
        numerator, denominator = 1, 1
        for j, (xj, _) in enumerate(points):
            if i != j:
                numerator = numerator * xj % SHAMIR_PRIME
                denominator = denominator * (xj - xi) % SHAMIR_PRIME
        secret = (secret + yi * numerator * pow(denominator, -1, SHAMIR_PRIME)) % SHAMIR_PRIME
    return secret.to_bytes(32, "big") if secret < (1 << 256) else None


def share_hex(value):
    return "0x" + value.hex()


def quantize(update, global_parameters, samples, max_samples, job_seed, round_, vpod_id):
    """The stochastic quantization of (update - global) · n_i / m, clipped to [-c, c], into 0 … Q-1 (SecAgg quantization)."""
    weight = float(samples) / float(max_samples)
    rng = SplitMix64(derive_seed(job_seed, QUANTIZE_PURPOSE, round_, vpod_id))
    quantized = []
    for k in range(len(update)):
        v = (update[k] - global_parameters[k]) * weight
        if v < -SECAGG_CLIP:
            v = -SECAGG_CLIP
        elif v > SECAGG_CLIP:
            v = SECAGG_CLIP
        y = (v + SECAGG_CLIP) * SECAGG_SCALE
        f = math.floor(y)
        u = (rng.next() >> 11) * (1.0 / (1 << 53))
        q = f + 1 if u < y - f else f
        quantized.append(q & UINT32_MASK)
    return quantized


def dequantize(global_parameters, total, survivors, weight_sum):
    """r[k] = global[k] + (sum[k] / s - |U| c) / W, in doubles in this order."""
    offset = float(survivors) * SECAGG_CLIP
    return [global_parameters[k] + (float(total[k]) / SECAGG_SCALE - offset) / weight_sum for k in range(len(total))]


def pairwise_sign(own_id, peer_id):
    """+1 when own_id < peer_id (ordinal), else -1."""
    return 1 if ordinal_key(own_id) < ordinal_key(peer_id) else -1


def add_words(target, words, sign):
    if sign > 0:
        for k in range(len(target)):
            target[k] = (target[k] + words[k]) & UINT32_MASK
    else:
        for k in range(len(target)):
            target[k] = (target[k] - words[k]) & UINT32_MASK


def mask_seed(own_secret, peer_point):
    return hkdf(ecdh(own_secret, peer_point), MASK_INFO)


def masked_update_encoding(values, max_samples, masked_with):
    """MaskedUpdateEncoding: "MNS1", uint32 L, L uint32 values, uint64 m, uint32 count, each id as uint32 length and UTF-8
    bytes (sorted ordinal); all little-endian."""
    parts = [b"MNS1", struct.pack(f"<I{len(values)}I", len(values), *values), struct.pack("<QI", max_samples, len(masked_with))]
    for vpod in sorted(masked_with, key=ordinal_key):
        data = utf8(vpod)
        parts.append(struct.pack("<I", len(data)) + data)
    return b"".join(parts)


def secagg_keys_digest(chain_id, job, round_, vpod, cipher_key, mask_key):
    struct_hash = keccak256(SECAGG_KEYS_TYPE + keccak256(utf8(job)) + word(round_) + keccak256(utf8(vpod))
                            + keccak256(cipher_key) + keccak256(mask_key))
    return typed_digest(vpod_domain(chain_id), struct_hash)


def survivors_hash(ids):
    """keccak256 of the sorted ids, each followed by a newline."""
    return keccak256(b"".join(utf8(v) + b"\n" for v in sorted(ids, key=ordinal_key)))


def secagg_survivors_digest(chain_id, job, round_, vpod, survivors):
    struct_hash = keccak256(SECAGG_SURVIVORS_TYPE + keccak256(utf8(job)) + word(round_) + keccak256(utf8(vpod)) + survivors_hash(survivors))
    return typed_digest(vpod_domain(chain_id), struct_hash)


def reveal_shares_hash(shares):
    """keccak256 of "{peer} {kind} {share}\\n" per share, sorted by ordinal peer id, then kind; shares in lower-case hex."""
    ordered = sorted(((peer, kind, share.lower()) for peer, kind, share in shares), key=lambda s: (ordinal_key(s[0]), ordinal_key(s[1])))
    return keccak256(b"".join(utf8(f"{peer} {kind} {share}\n") for peer, kind, share in ordered))


def secagg_reveal_digest(chain_id, job, round_, vpod, shares):
    struct_hash = keccak256(SECAGG_REVEAL_TYPE + keccak256(utf8(job)) + word(round_) + keccak256(utf8(vpod)) + reveal_shares_hash(shares))
    return typed_digest(vpod_domain(chain_id), struct_hash)


def envelope_associated_data(job, round_, sender, recipient):
    return utf8(f"{SHARE_INFO}\n{job}\n{round_}\n{sender}\n{recipient}")


def seal_envelope(own_cipher_secret, peer_cipher_point, job, round_, sender, recipient, self_mask_share, mask_key_share):
    """AES-256-GCM of {"from","to","selfMask","maskKey"} under HKDF(ECDH(cipher keys), "metanode/secagg/share/1"): nonce || ciphertext || tag."""
    key = hkdf(ecdh(own_cipher_secret, peer_cipher_point), SHARE_INFO)
    plaintext = json.dumps({"from": sender, "to": recipient, "selfMask": self_mask_share, "maskKey": mask_key_share},
                           separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    nonce = secrets.token_bytes(12)
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=16)
    cipher.update(envelope_associated_data(job, round_, sender, recipient))
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return to_hex(nonce + ciphertext + tag)


def open_envelope(own_cipher_secret, peer_cipher_point, job, round_, sender, recipient, text):
    """The (selfMask, maskKey) shares of an envelope from sender to recipient, or None when it does not open or check."""
    if not isinstance(text, str) or not CIPHERTEXT_HEX.fullmatch(text):
        return None
    raw = bytes.fromhex(text[2:])
    if len(raw) < 12 + 16:
        return None
    try:
        key = hkdf(ecdh(own_cipher_secret, peer_cipher_point), SHARE_INFO)
        cipher = AES.new(key, AES.MODE_GCM, nonce=raw[:12], mac_len=16)
        cipher.update(envelope_associated_data(job, round_, sender, recipient))
        plaintext = cipher.decrypt_and_verify(raw[12:-16], raw[-16:])
        message = json.loads(plaintext.decode("utf-8"))
    except (ValueError, KeyError, UnicodeDecodeError):
        return None
    if not isinstance(message, dict) or message.get("from") != sender or message.get("to") != recipient:
        return None
    self_mask, mask_key = message.get("selfMask"), message.get("maskKey")
    if not isinstance(self_mask, str) or not SHARE_HEX.fullmatch(self_mask) or not isinstance(mask_key, str) \
            or not SHARE_HEX.fullmatch(mask_key):
        return None
    return self_mask.lower(), mask_key.lower()


# ---------------------------------------------------------------------------------------------------------------------
# The endpoints.
# ---------------------------------------------------------------------------------------------------------------------

def require_object(body, what):
    if not isinstance(body, dict):
        raise BadRequest(f"The body must be a JSON object with {what}.")
    return body


def check_chain_id(chain_id):
    if chain_id < 0:
        raise BadRequest(f"chainId '{chain_id}' must not be negative.")
    return chain_id


def check_address(value, what):
    """The address in lower case; 400 unless it is 0x and 40 hex digits."""
    if value is None or not ADDRESS.fullmatch(value):
        raise BadRequest(f"{what} '{value}' must be 0x and 40 hex digits (an address).")
    return value.lower()


def read_global(global_dto):
    """The round's starting model (classes, features, parameters); 400 when missing, malformed or not finite."""
    if global_dto is None:
        raise BadRequest("global (the round's starting model) is missing.")
    global_model = read_model(global_dto, "global")
    if not all(math.isfinite(v) for v in global_model[2]):
        raise BadRequest("global holds a value that is not finite.")
    return global_model


def read_round_participants(participant_dtos):
    """[{"vpodId", "address" (lower case), "assignedSamples"}] of a round's participants; 400 when malformed."""
    if not participant_dtos:
        raise BadRequest("participants is empty: a round has at least one participant.")
    participants, ids, total_assigned = [], set(), 0
    for i, entry in enumerate(participant_dtos):
        what = f"participants[{i}]"
        if entry is None:
            raise BadRequest(f"{what} is null.")
        if not isinstance(entry, dict):
            raise BadRequest(f"{what} must be a JSON object.")
        vpod_id, address = get_string(entry, "vpodId", f"{what}.vpodId"), get_string(entry, "address", f"{what}.address")
        assigned = get_int(entry, "assignedSamples", INT64, f"{what}.assignedSamples")
        if not vpod_id or vpod_id in ids:
            raise BadRequest(f"{what}.vpodId '{vpod_id}' is empty or listed twice.")
        ids.add(vpod_id)
        address = check_address(address, f"{what}.address")
        if assigned < 1:
            raise BadRequest(f"{what}.assignedSamples '{assigned}' must be at least 1.")
        total_assigned += assigned
        if total_assigned > INT64[1]:
            raise BadRequest("participants' assignedSamples add up to more than 2^63 - 1.")
        participants.append({"vpodId": vpod_id, "address": address, "assignedSamples": assigned})
    return participants


def read_update(entry, i):
    """One copy of an update as the aggregator checks it, or None for a copy without a receipt. A model that cannot even be read
    keeps the copy with no model, so the aggregator rejects that copy alone (it never fails the request)."""
    what = f"updates[{i}]"
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise BadRequest(f"{what} must be a JSON object.")
    receipt, model = get_object(entry, "receipt", f"{what}.receipt"), model_of(entry, "model", f"{what}.model")
    if receipt is None:
        return None
    parsed = {"job": get_string(receipt, "job", f"{what}.receipt.job") or "",
              "round": get_int(receipt, "round", what=f"{what}.receipt.round"),
              "vpod": get_string(receipt, "vpod", f"{what}.receipt.vpod") or "",
              "sampleCount": get_int(receipt, "sampleCount", INT64, f"{what}.receipt.sampleCount"),
              "updateHash": get_string(receipt, "updateHash", f"{what}.receipt.updateHash") or "",
              "signature": get_string(receipt, "signature", f"{what}.receipt.signature")}
    if model is not None:
        try:
            model = read_model(model, f"{what}.model")
        except BadRequest:
            model = None
    return {"receipt": parsed, "model": model}


class Workload:
    def __init__(self, vpod_id, data_dir, key_dir, key):
        self.vpod_id = vpod_id
        self.data_dir = data_dir
        self.key_dir = key_dir
        self.key = key
        self.partition = Partition(data_dir)
        self.signed_rounds = SignedRounds(key_dir)
        self.blocks = BlockStore(key_dir)
        self.data_lock = threading.Lock()
        self.started = time.monotonic()

    def health(self):
        return {"status": "ok", "vpodId": self.vpod_id, "uptimeSeconds": round(time.monotonic() - self.started, 3), "protocol": PROTOCOL_VERSION}

    def identity(self, body):
        body = require_object(body, "vpodId, nonce and chainId")
        vpod_id, nonce_text = get_string(body, "vpodId"), get_string(body, "nonce")
        chain_id = get_int(body, "chainId", INT64)
        if vpod_id != self.vpod_id:
            raise BadRequest(f"vpodId '{vpod_id}' is not this workload's vPod ('{self.vpod_id}'): a workload proves only its own identity.")
        if nonce_text is None or not NONCE.fullmatch(nonce_text):
            raise BadRequest(f"nonce '{nonce_text}' must be 0x and 64 hex digits (32 bytes).")
        nonce = bytes.fromhex(nonce_text[2:])
        check_chain_id(chain_id)
        return {"vpodId": self.vpod_id, "address": self.key.address, "signature": self.key.sign_hex(identity_digest(self.vpod_id, nonce, chain_id))}

    def data(self, body):
        body = require_object(body, "files")
        files = get_list(body, "files")
        if files is None:
            raise BadRequest('The body must be a JSON object with files: [{"name": …, "content": base64}].')
        if not 1 <= len(files) <= MAX_DATA_FILES:
            raise BadRequest(f"files holds {len(files)} entries; a placement carries 1 to {MAX_DATA_FILES} files.")
        decoded, names, total = [], set(), 0
        for i, entry in enumerate(files):
            if entry is None:
                raise BadRequest(f"files[{i}] is null.")
            if not isinstance(entry, dict):
                raise BadRequest(f"files[{i}] must be a JSON object with name and content.")
            name, content = get_string(entry, "name", f"files[{i}].name"), get_string(entry, "content", f"files[{i}].content")
            if name is None or not DATA_FILE_NAME.fullmatch(name):
                raise BadRequest(f"files[{i}].name '{name}' is not a plain file name: 1 to 128 of A-Z a-z 0-9 . _ -, "
                                 "starting with a letter or digit (no '/', no leading dot).")
            if name in names:
                raise BadRequest(f"files[{i}].name '{name}' appears twice in the placement.")
            names.add(name)
            if content is None:
                raise BadRequest(f"files[{i}].content ('{name}') is missing.")
            try:
                # .NET's Convert.FromBase64String skips white space inside the text.
                data = base64.b64decode(re.sub(r"[ \t\r\n]", "", content), validate=True)
            except (ValueError, TypeError):
                raise BadRequest(f"files[{i}].content ('{name}') is not base64.")
            total += len(data)
            if total > MAX_DATA_BYTES:
                raise BadRequest(f"the files hold more than {MAX_DATA_BYTES} bytes; one request places at most {MAX_DATA_BYTES}.")
            decoded.append((name, data))
        with self.data_lock:
            try:
                os.makedirs(self.data_dir, exist_ok=True)
                for name, data in decoded:
                    write_atomically(self.data_dir, name, data)
                _fsync_directory(self.data_dir)
            except OSError as e:
                raise Conflict(f"cannot write to the data directory '{self.data_dir}': {e}")
        return {"vpodId": self.vpod_id, "files": len(decoded), "bytes": total}

    def statistics(self, body):
        if body is not None and not isinstance(body, dict):
            raise BadRequest("The body must be a JSON object.")
        data = self.partition.load(split_name(get_string(body or {}, "split"), "train"))
        features = data["features"]
        total, squares = [0.0] * features, [0.0] * features
        for row in data["rows"]:
            for j, v in enumerate(row):
                total[j] += v
                squares[j] += v * v
        return {"vpodId": self.vpod_id, "split": data["name"], "sampleCount": len(data["labels"]),
                "features": features, "sum": total, "sumOfSquares": squares}

    def parse_train(self, body):
        """The fields of a training request, checked in the C# workload's order up to (not including) the data directory."""
        body = require_object(body, "job, model and hyperParameters")
        job = get_string(body, "job")
        round_ = get_int(body, "round")
        chain_id = get_int(body, "chainId", INT64)
        assigned = get_optional_int(body, "assignedSamples", INT64)
        hyper = get_object(body, "hyperParameters")
        model, standardization = model_of(body, "model"), standardization_of(body)
        if not job:
            raise BadRequest("job is missing: a receipt names the job it was trained for.")
        check_chain_id(chain_id)
        if round_ < 0:
            raise BadRequest(f"round '{round_}' must not be negative.")
        if hyper is None:
            raise BadRequest("hyperParameters is missing.")
        epochs = get_int(hyper, "epochs", what="hyperParameters.epochs")
        batch = get_int(hyper, "batchSize", what="hyperParameters.batchSize")
        lr = get_double(hyper, "learningRate", "hyperParameters.learningRate")
        seed = get_int(hyper, "seed", UINT64, "hyperParameters.seed")
        mu = get_optional_double(hyper, "proximalMu", "hyperParameters.proximalMu")
        if not 1 <= epochs <= MAX_EPOCHS:
            raise BadRequest(f"hyperParameters.epochs '{epochs}' must be from 1 to {MAX_EPOCHS}.")
        if batch < 1:
            raise BadRequest(f"hyperParameters.batchSize '{batch}' must be at least 1.")
        if not math.isfinite(lr) or lr <= 0:
            raise BadRequest(f"hyperParameters.learningRate '{lr}' must be a positive number.")
        if seed > MAX_SEED:
            raise BadRequest(f"hyperParameters.seed '{seed}' must be from 0 to {MAX_SEED}.")
        mu = 0.0 if mu is None else mu
        if not math.isfinite(mu) or mu < 0:
            raise BadRequest(f"hyperParameters.proximalMu '{mu}' must be a finite number, at least 0.")
        if assigned is not None and assigned < 0:
            raise BadRequest(f"assignedSamples '{assigned}' must not be negative.")
        return {"job": job, "round": round_, "chainId": chain_id, "assignedSamples": assigned, "model": model,
                "standardization": standardization, "epochs": epochs, "batchSize": batch, "learningRate": lr, "seed": seed,
                "proximalMu": mu}

    def train_locally(self, request):
        """Trains on the train split as a parsed request asks: (the update, its hash, sample count and metrics)."""
        assigned, model, standardization = request["assignedSamples"], request["model"], request["standardization"]
        epochs, batch, lr, seed = request["epochs"], request["batchSize"], request["learningRate"], request["seed"]
        data = self.partition.load("train")
        rows = len(data["labels"])
        if assigned is not None and assigned != rows:
            raise Conflict(f"the job assigned {assigned} samples; this vPod holds {rows} training rows")
        weights, bias = local_model(model, data)
        xs = standardized(data, check_standardization(standardization, data["features"]))
        started = time.perf_counter()
        steps = train(weights, bias, xs, data["labels"], epochs, batch, lr, seed, request["proximalMu"])
        elapsed = (time.perf_counter() - started) * 1000
        parameters = [w for row in weights for w in row] + bias
        update_hash = model_hash(data["classes"], data["features"], parameters)
        if update_hash is None:
            raise BadRequest(f"training diverged: the trained model holds a value that is not finite "
                             f"(hyperParameters.learningRate '{lr}' is too large for this data).")
        loss, accuracy = evaluate(weights, bias, xs, data["labels"])
        return {"update": {"classes": data["classes"], "features": data["features"],
                           "weights": [w for row in weights for w in row], "bias": bias},
                "updateHash": update_hash, "sampleCount": rows,
                "metrics": {"loss": loss, "accuracy": accuracy, "steps": steps, "elapsedMs": round(elapsed, 3)}}

    def train(self, body):
        request = self.parse_train(body)
        job, round_, chain_id = request["job"], request["round"], request["chainId"]
        trained = self.train_locally(request)
        rows, update_hash = trained["sampleCount"], trained["updateHash"]
        digest = typed_digest(vpod_domain(chain_id), receipt_hash(job, round_, self.vpod_id, rows, update_hash))
        return {"job": job, "round": round_, "vpodId": self.vpod_id,
                "update": trained["update"],
                "sampleCount": rows,
                "metrics": trained["metrics"],
                "receipt": {"job": job, "round": round_, "vpod": self.vpod_id, "sampleCount": rows,
                            "updateHash": update_hash, "signature": self.key.sign_hex(digest)}}

    def evaluate(self, body):
        body = require_object(body, "a model")
        get_string(body, "job")
        round_ = get_int(body, "round")
        split = get_string(body, "split")
        model, standardization = model_of(body, "model"), standardization_of(body)
        if round_ < 0:
            raise BadRequest(f"round '{round_}' must not be negative.")
        return self._evaluate(split_name(split, "test"), model, standardization)

    def _evaluate(self, split, model, standardization):
        """Loss and accuracy of a model on a split of the local data."""
        data = self.partition.load(split)
        weights, bias = local_model(model, data)
        xs = standardized(data, check_standardization(standardization, data["features"]))
        loss, accuracy = evaluate(weights, bias, xs, data["labels"])
        return {"vpodId": self.vpod_id, "split": data["name"], "sampleCount": len(data["labels"]), "loss": loss, "accuracy": accuracy}

    def aggregate(self, body):
        body = require_object(body, "job, round, chainId, registry, aggregation, global, participants and updates")
        job = get_string(body, "job")
        round_ = get_int(body, "round")
        chain_id = get_int(body, "chainId", INT64)
        registry = get_string(body, "registry")
        aggregation = get_string(body, "aggregation")
        global_dto = model_of(body, "global")
        standardization = standardization_of(body)
        participant_dtos = get_list(body, "participants")
        update_dtos = get_list(body, "updates")
        optimizer_dto, state_dto = server_optimizer_of(body)

        # The checks in the C# workload's order (RoundValidation.Facts).
        job_id_bytes32(job)
        if round_ < 0:
            raise BadRequest(f"round '{round_}' must not be negative.")
        check_chain_id(chain_id)
        registry = check_address(registry, "registry")
        rule = AggregationRule.parse(aggregation)
        global_model = read_global(global_dto)
        if not participant_dtos:
            raise BadRequest("participants is empty: a round has at least one participant.")
        if update_dtos is None:
            raise BadRequest("updates is missing (send [] when none arrived).")
        participants = read_round_participants(participant_dtos)
        optimizer = check_server_optimizer(optimizer_dto, state_dto, len(global_model[2]))
        updates = [update for update in (read_update(entry, i) for i, entry in enumerate(update_dtos)) if update is not None]

        parameters, included, total, root, rejected = aggregate_round(job, round_, chain_id, global_model, rule, participants, updates)
        if parameters is None:
            reasons = "; ".join(f"{vpod}: {reason}" for vpod, reason in rejected) or "no updates were sent"
            raise Conflict(f"no update of job '{job}' round {round_} could be aggregated ({len(rejected)} rejected: {reasons})")
        return self.finish_round(job, round_, chain_id, registry, global_model, standardization, parameters, included, total, root, rejected,
                                 optimizer)

    def finish_round(self, job, round_, chain_id, registry, global_model, standardization, parameters, included, total, root, rejected,
                     optimizer=None):
        """Takes the server optimizer's step on the aggregate (when there is one), evaluates the round's model, passes the
        equivocation guard and signs FinalizeRound (and ServerState): the answer of an aggregation."""
        classes, features = global_model[0], global_model[1]
        if optimizer is not None:
            parameters, momentum, second_moment = server_step(optimizer, global_model[2], parameters)
        model = {"classes": classes, "features": features, "weights": parameters[:classes * features], "bias": parameters[classes * features:]}
        evaluation = None
        if self.partition.has_split("test"):
            evaluation = self._evaluate("test", (classes, features, model["weights"], model["bias"]), standardization)
            del evaluation["vpodId"]
        if not all(math.isfinite(v) for v in parameters):
            raise Conflict(f"the aggregate of job '{job}' round {round_} holds a value that is not finite; it has no canonical encoding.")
        encoded = encode_model(classes, features, parameters)
        result_hash, model_ref = keccak256(encoded), hashlib.sha256(encoded).digest()
        model_cid = unixfs_file_cid(encoded)
        digest = finalize_digest(chain_id, registry, job, round_, result_hash, root, model_ref, model_cid)
        self.signed_rounds.admit(chain_id, registry, job, round_, digest)
        signature = self.key.sign_hex(digest)
        print(f"vPod {self.vpod_id} signed job {job} round {round_} on registry {registry} (chain {chain_id}): "
              f"result {to_hex(result_hash)}, {len(included)} participants, {len(rejected)} rejected", flush=True)
        answer = {"job": job, "round": round_, "vpodId": self.vpod_id, "signer": self.key.address, "signature": signature,
                  "resultHash": to_hex(result_hash), "receiptsRoot": to_hex(root), "modelRef": to_hex(model_ref),
                  "modelCid": cid_text(model_cid), "participants": included, "totalSamples": total,
                  "rejected": [{"vpodId": vpod, "reason": reason} for vpod, reason in rejected],
                  "model": model, "evaluation": evaluation}
        if optimizer is not None:
            state_hash = keccak256(encode_server_state(optimizer, momentum, second_moment))
            answer["optimizerState"] = {"momentum": momentum}
            if second_moment is not None:
                answer["optimizerState"]["secondMoment"] = second_moment
            answer["stateHash"] = to_hex(state_hash)
            answer["stateSignature"] = self.key.sign_hex(server_state_digest(chain_id, registry, job, round_, result_hash, state_hash))
        return answer

    def sign_rotation(self, body):
        body = require_object(body, "chainId, registry, validators, threshold, nonce and proofs")
        chain_id = get_int(body, "chainId", INT64)
        registry = get_string(body, "registry")
        validators = get_list(body, "validators")
        threshold = get_int(body, "threshold")
        nonce = get_int(body, "nonce", INT64)
        proofs = get_list(body, "proofs") or []
        for i, validator in enumerate(validators or []):
            if validator is not None and not isinstance(validator, str):
                raise BadRequest(f"validators[{i}] must be a string.")
        for i, proof in enumerate(proofs):
            if proof is not None:
                if not isinstance(proof, dict):
                    raise BadRequest(f"proofs[{i}] must be a JSON object with vpodId, address and signature.")
                for name in ("vpodId", "address", "signature"):
                    get_string(proof, name, f"proofs[{i}].{name}")

        # The checks in the C# workload's order (RotationSigning.Sign).
        check_chain_id(chain_id)
        registry = check_address(registry, "registry")
        if not validators:
            raise BadRequest("validators is empty: a registry needs at least one validator.")
        addresses = []
        for i, validator in enumerate(validators):
            address = check_address(validator, f"validators[{i}]")
            if address in addresses:
                raise BadRequest(f"validators[{i}] '{validator}' is listed twice.")
            addresses.append(address)
        if not 1 <= threshold <= len(addresses):
            raise BadRequest(f"threshold '{threshold}' must be from 1 to the number of validators ({len(addresses)}).")
        if nonce < 0:
            raise BadRequest(f"nonce '{nonce}' must not be negative.")
        digest = rotation_digest(chain_id, registry, addresses, threshold, nonce)
        proven = set()
        for proof in proofs:
            if proof is None or not proof.get("vpodId"):
                continue
            signer = recover_address(identity_digest(proof["vpodId"], digest, chain_id), parse_signature(proof.get("signature")))
            if signer is not None:
                proven.add(signer)
        for address in addresses:
            if address not in proven:
                raise Conflict(f"no identity proof recovers to proposed validator {address}: each one must sign Identity(vpod, "
                               f"nonce = the rotation digest {to_hex(digest)}, chainId {chain_id}) with its key")
        return {"vpodId": self.vpod_id, "signer": self.key.address, "signature": self.key.sign_hex(digest)}


# ---------------------------------------------------------------------------------------------------------------------
# Secure aggregation: the compute vPod's five stages and the validator's unmasking, with the per-job state in
# {keyDir}/secagg/{job}/ (job.json, round-{r}.json; written atomically, mode 0600, flushed to disk before an answer leaves).
# ---------------------------------------------------------------------------------------------------------------------

SECAGG_JOB_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


def check_secagg_job(job):
    """A job id that names the state directory (and fits the registry's bytes32): 1 to 32 lower-case letters, digits or '-'."""
    if not isinstance(job, str) or not SECAGG_JOB_NAME.fullmatch(job):
        raise BadRequest(f"job '{job}' is invalid: a job id is 1-32 lower-case letters, digits or '-'.")
    return job


def check_round(round_):
    if round_ < 0:
        raise BadRequest(f"round '{round_}' must not be negative.")
    return round_


def check_threshold(threshold, n):
    if n < 2:
        raise BadRequest(f"participants holds {n} vPod; secure aggregation needs at least 2.")
    d = neighbourhood_size(n)
    if not n // 2 + 1 <= threshold <= d:
        raise BadRequest(f"threshold '{threshold}' must be from {n // 2 + 1} (a majority of the {n} participants) to the "
                         f"neighbourhood size {d}.")
    return threshold


def get_strings(body, name, what=None):
    """A list of strings; 400 for another type or a null entry (None when absent)."""
    values = get_list(body, name, what)
    if values is None:
        return None
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise BadRequest(f"{what or name}[{i}] must be a string.")
    return values


def get_objects(body, name, fields, what=None):
    """A list of JSON objects whose named fields are strings (None when absent); 400 for another type."""
    values = get_list(body, name, what)
    if values is None:
        return None
    for i, value in enumerate(values):
        if not isinstance(value, dict):
            raise BadRequest(f"{what or name}[{i}] must be a JSON object with {', '.join(fields)}.")
        for field in fields:
            get_string(value, field, f"{what or name}[{i}].{field}")
    return values


def distinct_ids(values, what):
    """The ids sorted ordinal; 400 for an empty or repeated one."""
    seen = set()
    for i, value in enumerate(values):
        if not value or value in seen:
            raise BadRequest(f"{what}[{i}] '{value}' is empty or listed twice.")
        seen.add(value)
    return sorted(seen, key=ordinal_key)


def read_key_participants(dtos):
    """[(vpodId, address)] sorted ordinal from [{"vpodId", "address"}]; 400 when malformed."""
    if not dtos:
        raise BadRequest("participants is empty: a secure round has at least one participant.")
    participants, seen = [], set()
    for i, entry in enumerate(dtos):
        what = f"participants[{i}]"
        if not isinstance(entry, dict):
            raise BadRequest(f"{what} must be a JSON object with vpodId and address.")
        vpod_id, address = get_string(entry, "vpodId", f"{what}.vpodId"), get_string(entry, "address", f"{what}.address")
        if not vpod_id or vpod_id in seen:
            raise BadRequest(f"{what}.vpodId '{vpod_id}' is empty or listed twice.")
        seen.add(vpod_id)
        participants.append((vpod_id, check_address(address, f"{what}.address")))
    if len(participants) > SECAGG_MAX_PARTICIPANTS:
        raise BadRequest(f"participants holds {len(participants)} vPods; a secure round has at most {SECAGG_MAX_PARTICIPANTS}.")
    participants.sort(key=lambda p: ordinal_key(p[0]))
    return participants


class SecureRound:
    """The facts of a job that fix a round's graph: participants (sorted ordinal), their addresses, seed and threshold."""

    def __init__(self, participants, seed, threshold):
        self.ids = [vpod for vpod, _ in participants]
        self.addresses = {vpod: address for vpod, address in participants}
        self.index = {vpod: i for i, vpod in enumerate(self.ids)}
        self.seed, self.threshold = seed, threshold
        self.n = len(self.ids)
        self.d = neighbourhood_size(self.n)
        self._graphs = {}

    def neighbourhood(self, round_, vpod):
        """N(v): v's neighbours and v itself, as ids."""
        graph = self._graphs.get(round_)
        if graph is None:
            graph = self._graphs[round_] = neighbour_graph(self.n, self.d, self.seed, round_)
        return {self.ids[i] for i in graph[self.index[vpod]]}

    def advertised(self, chain_id, job, round_, entries):
        """U1: {vpodId: (cipherKey, maskKey)} of the key entries signed by their participant (lower-case hex), the first such
        entry of each participant. Entries of strangers, unreadable keys and bad signatures are ignored."""
        found = {}
        for entry in entries:
            vpod = entry.get("vpodId")
            if vpod not in self.addresses or vpod in found:
                continue
            cipher_key, mask_key = entry.get("cipherKey"), entry.get("maskKey")
            if p256_parse_public(cipher_key) is None or p256_parse_public(mask_key) is None:
                continue
            keys = (cipher_key.lower(), mask_key.lower())
            digest = secagg_keys_digest(chain_id, job, round_, vpod, bytes.fromhex(keys[0][2:]), bytes.fromhex(keys[1][2:]))
            if recover_address(digest, parse_signature(entry.get("signature"))) == self.addresses[vpod]:
                found[vpod] = keys
        return found

    def valid_survivor_signers(self, chain_id, job, round_, survivors, signatures):
        """The distinct survivors whose SecAggSurvivors signature over the set recovers to their address."""
        survivor_set, signers = set(survivors), set()
        for entry in signatures:
            vpod = entry.get("vpodId")
            if vpod not in survivor_set or vpod in signers:
                continue
            digest = secagg_survivors_digest(chain_id, job, round_, vpod, survivors)
            if recover_address(digest, parse_signature(entry.get("signature"))) == self.addresses[vpod]:
                signers.add(vpod)
        return signers


class SecAggStore:
    """{keyDir}/secagg/{job}/job.json and round-{r}.json. Requests are serialised by one lock in the process and by flock on
    {keyDir}/secagg/.lock across processes."""

    def __init__(self, key_dir):
        self.root = os.path.join(key_dir, SECAGG_DIR)
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def locked(self):
        with self.lock:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            fd = os.open(os.path.join(self.root, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def _path(self, job, name):
        return os.path.join(self.root, job, name)

    def read(self, job, name):
        path = self._path(job, name)
        try:
            with open(path, "rb") as f:
                value = json.loads(f.read().decode("utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise Conflict(f"the secure-aggregation state '{path}' cannot be read ({e}): restore it from a backup.")
        if not isinstance(value, dict):
            raise Conflict(f"the secure-aggregation state '{path}' is not a JSON object: restore it from a backup.")
        return value

    def write(self, job, name, value):
        directory = os.path.join(self.root, job)
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            write_atomically(directory, name, (json.dumps(value, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8"), mode=0o600)
            _fsync_directory(directory)
            _fsync_directory(self.root)
        except OSError as e:
            raise Conflict(f"cannot record the secure-aggregation state in '{directory}': {e}")


def round_file(round_):
    return f"round-{round_}.json"


class SecureAggregation:
    """POST /v2/secagg/keys, shares, train, survivors, reveal (compute vPods) and aggregate (validators)."""

    def __init__(self, workload):
        self.workload = workload
        self.vpod_id = workload.vpod_id
        self.key = workload.key
        self.store = SecAggStore(workload.key_dir)

    # -- state ------------------------------------------------------------------------------------------------------

    def _job(self, job):
        """(chainId, SecureRound) of the job as its first keys request fixed it; 409 when there was none."""
        state = self.store.read(job, "job.json")
        if state is None:
            raise Conflict(f"this vPod has no secure-aggregation state for job '{job}': POST /v2/secagg/keys first.")
        try:
            participants = [(p["vpodId"], p["address"]) for p in state["participants"]]
            return state["chainId"], SecureRound(participants, state["seed"], state["threshold"])
        except (KeyError, TypeError) as e:
            raise Conflict(f"the secure-aggregation state of job '{job}' (job.json) is damaged ({e}): restore it from a backup.")

    def _round(self, job, round_, stage, needed_for):
        """The round's state, which must hold `stage`; 409 otherwise."""
        state = self.store.read(job, round_file(round_)) or {}
        if stage not in state:
            raise Conflict(f"this vPod has not answered /v2/secagg/{stage} for job '{job}' round {round_}; "
                           f"{needed_for} comes after it.")
        return state

    def _check_survivors(self, job, facts, survivors):
        """400 for a survivor that is not a participant; 409 when this vPod is not listed or the set is smaller than t."""
        strangers = [vpod for vpod in survivors if vpod not in facts.index]
        if strangers:
            raise BadRequest(f"survivors lists '{strangers[0]}', not a participant of job '{job}'.")
        if self.vpod_id not in survivors:
            raise Conflict(f"survivors does not list this vPod ('{self.vpod_id}'): a vPod the job counts as dropped reveals nothing.")
        if len(survivors) < facts.threshold:
            raise Conflict(f"survivors lists {len(survivors)} vPods; the threshold is t = {facts.threshold}.")

    # -- 1. keys ----------------------------------------------------------------------------------------------------

    def keys(self, body):
        body = require_object(body, "job, round, chainId, seed, threshold and participants")
        job = get_string(body, "job")
        round_ = get_int(body, "round")
        chain_id = get_int(body, "chainId", INT64)
        seed = get_int(body, "seed", UINT64)
        threshold = get_int(body, "threshold")
        participant_dtos = get_list(body, "participants")
        check_secagg_job(job)
        check_round(round_)
        check_chain_id(chain_id)
        participants = read_key_participants(participant_dtos)
        if self.vpod_id not in {vpod for vpod, _ in participants}:
            raise BadRequest(f"participants does not list this vPod ('{self.vpod_id}').")
        check_threshold(threshold, len(participants))
        fixed = {"chainId": chain_id, "seed": seed, "threshold": threshold,
                 "participants": [{"vpodId": vpod, "address": address} for vpod, address in participants]}
        with self.store.locked():
            recorded = self.store.read(job, "job.json")
            if recorded is None:
                self.store.write(job, "job.json", fixed)
            elif recorded != fixed:
                differs = [name for name in ("chainId", "seed", "threshold", "participants") if recorded.get(name) != fixed[name]]
                raise Conflict(f"job '{job}' was fixed by its first keys request with other {', '.join(differs)} "
                               f"(threshold t = {recorded.get('threshold')}); a job keeps its participants, seed, threshold and chain.")
            state = self.store.read(job, round_file(round_)) or {}
            if "keys" not in state:
                cipher_secret, mask_secret = p256_new_secret(), p256_new_secret()
                cipher_key = p256_public_bytes(p256_public_of(cipher_secret))
                mask_key = p256_public_bytes(p256_public_of(mask_secret))
                digest = secagg_keys_digest(chain_id, job, round_, self.vpod_id, cipher_key, mask_key)
                answer = {"vpodId": self.vpod_id, "cipherKey": to_hex(cipher_key), "maskKey": to_hex(mask_key),
                          "signature": self.key.sign_hex(digest)}
                state["keys"] = {"cipherSecret": cipher_secret.to_bytes(32, "big").hex(), "maskSecret": mask_secret.to_bytes(32, "big").hex(),
                                 "answer": answer}
                self.store.write(job, round_file(round_), state)
            return state["keys"]["answer"]

    # -- 2. shares --------------------------------------------------------------------------------------------------

    def shares(self, body):
        body = require_object(body, "job, round and keys")
        job = get_string(body, "job")
        round_ = get_int(body, "round")
        entries = get_objects(body, "keys", ("vpodId", "cipherKey", "maskKey", "signature"))
        check_secagg_job(job)
        check_round(round_)
        if entries is None:
            raise BadRequest("keys is missing: send the round's advertised keys.")
        with self.store.locked():
            chain_id, facts = self._job(job)
            state = self._round(job, round_, "keys", "/v2/secagg/shares")
            advertised = facts.advertised(chain_id, job, round_, entries)
            mine = (state["keys"]["answer"]["cipherKey"], state["keys"]["answer"]["maskKey"])
            if advertised.get(self.vpod_id) != mine:
                raise Conflict(f"keys holds no entry of this vPod ('{self.vpod_id}') with the keys it made for job '{job}' round {round_}.")
            u1 = [[vpod, keys[0], keys[1]] for vpod, keys in sorted(advertised.items(), key=lambda item: ordinal_key(item[0]))]
            holders = sorted((vpod for vpod in facts.neighbourhood(round_, self.vpod_id) if vpod in advertised), key=ordinal_key)
            t = facts.threshold
            if len(holders) < t:
                raise Conflict(f"only {len(holders)} of this vPod's neighbours (itself included) advertised keys for job '{job}' "
                               f"round {round_}; the threshold is t = {t}.")
            recorded = state.get("shares")
            if recorded is not None:
                if recorded["advertised"] != u1:
                    raise Conflict(f"this vPod already shared its masks for job '{job}' round {round_} among another advertised set "
                                   f"({len(recorded['advertised'])} vPods; t = {t}); it shares once per round.")
                return recorded["answer"]
            self_mask = secrets.token_bytes(32)
            cipher_secret = int(state["keys"]["cipherSecret"], 16)
            mask_secret = bytes.fromhex(state["keys"]["maskSecret"])
            xs = [facts.index[vpod] + 1 for vpod in holders]
            self_mask_shares = shamir_share(self_mask, t, xs)
            mask_key_shares = shamir_share(mask_secret, t, xs)
            envelopes, own = [], None
            for vpod, x in zip(holders, xs):
                pair = (share_hex(self_mask_shares[x]), share_hex(mask_key_shares[x]))
                if vpod == self.vpod_id:
                    own = pair
                    continue
                envelopes.append({"to": vpod, "ciphertext": seal_envelope(cipher_secret, p256_parse_public(advertised[vpod][0]), job,
                                                                          round_, self.vpod_id, vpod, pair[0], pair[1])})
            answer = {"vpodId": self.vpod_id, "shares": envelopes}
            state["shares"] = {"advertised": u1, "selfMask": self_mask.hex(), "own": {"selfMask": own[0], "maskKey": own[1]},
                               "answer": answer}
            self.store.write(job, round_file(round_), state)
            return answer

    # -- 3. train ---------------------------------------------------------------------------------------------------

    def train(self, body):
        workload = self.workload
        request = workload.parse_train(body)
        job, round_, chain_id, assigned = request["job"], request["round"], request["chainId"], request["assignedSamples"]
        max_samples = get_optional_int(body, "maxSamples", INT64)
        envelopes = get_objects(body, "shares", ("from", "to", "ciphertext"))
        check_secagg_job(job)
        if max_samples is None or max_samples < 1:
            raise BadRequest(f"maxSamples '{max_samples}' must be at least 1: the largest number of samples the job assigned to a participant.")
        if assigned is not None and assigned > max_samples:
            raise BadRequest(f"assignedSamples '{assigned}' is larger than maxSamples '{max_samples}'.")
        if envelopes is None:
            raise BadRequest("shares is missing: send the envelopes addressed to this vPod (may be empty).")
        inputs = hashlib.sha256(json.dumps({k: v for k, v in body.items() if k != "shares"}, sort_keys=True,
                                           separators=(",", ":")).encode("utf-8")).hexdigest()
        with self.store.locked():
            job_chain, facts = self._job(job)
            state = self._round(job, round_, "shares", "/v2/secagg/train")
            if chain_id != job_chain:
                raise Conflict(f"chainId {chain_id} is not job '{job}''s chain {job_chain}.")
            advertised = {vpod: (cipher, mask) for vpod, cipher, mask in state["shares"]["advertised"]}
            neighbours = facts.neighbourhood(round_, self.vpod_id)
            cipher_secret = int(state["keys"]["cipherSecret"], 16)
            received = {}
            for entry in envelopes:
                sender, recipient = entry.get("from"), entry.get("to")
                if sender in received or sender == self.vpod_id or sender not in neighbours or sender not in advertised \
                        or recipient not in (None, self.vpod_id):
                    continue
                opened = open_envelope(cipher_secret, p256_parse_public(advertised[sender][0]), job, round_, sender, self.vpod_id,
                                       entry.get("ciphertext"))
                if opened is not None:
                    received[sender] = opened
            t = facts.threshold
            if len(received) + 1 < t:
                raise Conflict(f"only {len(received)} share envelopes for this vPod opened for job '{job}' round {round_}; with its own "
                               f"share that is {len(received) + 1}, below the threshold t = {t}.")
            senders = sorted(received, key=ordinal_key)
            recorded = state.get("train")
            if recorded is not None:
                if recorded["senders"] != senders:
                    raise Conflict(f"this vPod already masked its update for job '{job}' round {round_} with {len(recorded['senders'])} "
                                   f"other senders (t = {t}); it masks once per round.")
                if recorded["inputs"] != inputs:
                    raise Conflict(f"this vPod already masked an update for job '{job}' round {round_} from another training request; "
                                   "it masks one update per round.")
                return recorded["answer"]

            trained = workload.train_locally(request)
            samples = trained["sampleCount"]
            if samples > max_samples:
                raise Conflict(f"this vPod holds {samples} training rows, more than maxSamples {max_samples}.")
            global_parameters = list(request["model"][2]) + list(request["model"][3])
            parameters = trained["update"]["weights"] + trained["update"]["bias"]
            masked = quantize(parameters, global_parameters, samples, max_samples, facts.seed, round_, self.vpod_id)
            add_words(masked, prg_words(bytes.fromhex(state["shares"]["selfMask"]), len(masked)), 1)
            mask_secret = int(state["keys"]["maskSecret"], 16)
            for peer in senders:
                seed = mask_seed(mask_secret, p256_parse_public(advertised[peer][1]))
                add_words(masked, prg_words(seed, len(masked)), pairwise_sign(self.vpod_id, peer))
            update_hash = to_hex(keccak256(masked_update_encoding(masked, max_samples, senders)))
            digest = typed_digest(vpod_domain(chain_id), receipt_hash(job, round_, self.vpod_id, samples, update_hash))
            answer = {"job": job, "round": round_, "vpodId": self.vpod_id, "masked": masked, "maskedWith": senders,
                      "maxSamples": max_samples, "sampleCount": samples, "metrics": trained["metrics"],
                      "receipt": {"job": job, "round": round_, "vpod": self.vpod_id, "sampleCount": samples,
                                  "updateHash": update_hash, "signature": self.key.sign_hex(digest)}}
            state["train"] = {"senders": senders, "inputs": inputs, "answer": answer,
                              "received": {peer: {"selfMask": received[peer][0], "maskKey": received[peer][1]} for peer in senders}}
            self.store.write(job, round_file(round_), state)
            return answer

    # -- 4. survivors -----------------------------------------------------------------------------------------------

    def survivors(self, body):
        body = require_object(body, "job, round and survivors")
        job = get_string(body, "job")
        round_ = get_int(body, "round")
        listed = get_strings(body, "survivors")
        check_secagg_job(job)
        check_round(round_)
        if listed is None:
            raise BadRequest("survivors is missing.")
        survivors = distinct_ids(listed, "survivors")
        with self.store.locked():
            chain_id, facts = self._job(job)
            self._check_survivors(job, facts, survivors)
            state = self._round(job, round_, "train", "/v2/secagg/survivors")
            t = facts.threshold
            recorded = state.get("survivors")
            if recorded is not None:
                if recorded["ids"] != survivors:
                    raise Conflict(f"this vPod already signed another survivor set for job '{job}' round {round_} "
                                   f"({len(recorded['ids'])} vPods; t = {t}): it signs one set per round.")
                return recorded["answer"]
            answer = {"vpodId": self.vpod_id,
                      "signature": self.key.sign_hex(secagg_survivors_digest(chain_id, job, round_, self.vpod_id, survivors))}
            state["survivors"] = {"ids": survivors, "answer": answer}
            self.store.write(job, round_file(round_), state)
            return answer

    # -- 5. reveal --------------------------------------------------------------------------------------------------

    def reveal(self, body):
        body = require_object(body, "job, round, survivors and signatures")
        job = get_string(body, "job")
        round_ = get_int(body, "round")
        listed = get_strings(body, "survivors")
        signatures = get_objects(body, "signatures", ("vpodId", "signature"))
        check_secagg_job(job)
        check_round(round_)
        if listed is None:
            raise BadRequest("survivors is missing.")
        survivors = distinct_ids(listed, "survivors")
        if signatures is None:
            raise BadRequest("signatures is missing: send the survivors' signatures over the set.")
        with self.store.locked():
            chain_id, facts = self._job(job)
            self._check_survivors(job, facts, survivors)
            state = self._round(job, round_, "survivors", "/v2/secagg/reveal")
            t = facts.threshold
            if state["survivors"]["ids"] != survivors:
                raise Conflict(f"survivors is not the set this vPod signed for job '{job}' round {round_}; it reveals only for that set.")
            signers = facts.valid_survivor_signers(chain_id, job, round_, survivors, signatures)
            if len(signers) < t:
                raise Conflict(f"only {len(signers)} survivors signed the survivor set of job '{job}' round {round_}; the threshold is t = {t}.")
            survivor_set = set(survivors)
            held = {self.vpod_id: state["shares"]["own"]}
            held.update(state["train"]["received"])
            shares = []
            for peer in sorted(held, key=ordinal_key):
                kind = SELF_MASK_KIND if peer in survivor_set else MASK_KEY_KIND
                shares.append((peer, kind, held[peer]["selfMask" if kind == SELF_MASK_KIND else "maskKey"]))
            revealed = dict(state.get("revealed") or {})
            for peer, kind, _ in shares:
                if revealed.get(peer, kind) != kind:
                    raise Conflict(f"this vPod revealed the {revealed[peer]} share of '{peer}' for job '{job}' round {round_}; "
                                   f"it never reveals its {kind} share too.")
            if any(peer not in revealed for peer, _, _ in shares):
                for peer, kind, _ in shares:
                    revealed[peer] = kind
                state["revealed"] = revealed
                self.store.write(job, round_file(round_), state)
            signature = self.key.sign_hex(secagg_reveal_digest(chain_id, job, round_, self.vpod_id, shares))
            return {"vpodId": self.vpod_id, "shares": [{"peer": peer, "kind": kind, "share": share} for peer, kind, share in shares],
                    "signature": signature}

    # -- the validator ----------------------------------------------------------------------------------------------

    def aggregate(self, body):
        body = require_object(body, "job, round, chainId, registry, global, participants, seed, threshold, keys, survivors, "
                                    "survivorSignatures, updates and reveals")
        job = get_string(body, "job")
        round_ = get_int(body, "round")
        chain_id = get_int(body, "chainId", INT64)
        registry = get_string(body, "registry")
        global_dto = model_of(body, "global")
        standardization = standardization_of(body)
        participant_dtos = get_list(body, "participants")
        seed = get_int(body, "seed", UINT64)
        threshold = get_int(body, "threshold")
        keys = get_objects(body, "keys", ("vpodId", "cipherKey", "maskKey", "signature"))
        listed = get_strings(body, "survivors")
        survivor_signatures = get_objects(body, "survivorSignatures", ("vpodId", "signature"))
        update_dtos = get_list(body, "updates")
        reveal_dtos = get_list(body, "reveals")
        optimizer_dto, state_dto = server_optimizer_of(body)

        job_id_bytes32(job)
        check_round(round_)
        check_chain_id(chain_id)
        registry = check_address(registry, "registry")
        global_model = read_global(global_dto)
        participants = read_round_participants(participant_dtos)
        if len(participants) > SECAGG_MAX_PARTICIPANTS:
            raise BadRequest(f"participants holds {len(participants)} vPods; a secure round has at most {SECAGG_MAX_PARTICIPANTS}.")
        check_threshold(threshold, len(participants))
        if keys is None:
            raise BadRequest("keys is missing: send the round's advertised keys.")
        if listed is None:
            raise BadRequest("survivors is missing.")
        by_id = {p["vpodId"]: p for p in participants}
        if survivor_signatures is None:
            raise BadRequest("survivorSignatures is missing.")
        if update_dtos is None:
            raise BadRequest("updates is missing.")
        if reveal_dtos is None:
            raise BadRequest("reveals is missing.")
        updates = [read_masked_update(entry, i) for i, entry in enumerate(update_dtos)]
        reveals = [read_reveal(entry, i) for i, entry in enumerate(reveal_dtos)]
        optimizer = check_server_optimizer(optimizer_dto, state_dto, len(global_model[2]))

        # A survivor set that repeats a vPod or names a stranger is a transcript that cannot be unmasked (409, as any other).
        if len(set(listed)) != len(listed) or any(vpod not in by_id for vpod in listed):
            raise Conflict(f"job '{job}' round {round_} cannot be unmasked: the survivor set lists a vPod twice, or one that is not "
                           f"a participant (t = {threshold}).")
        survivors = sorted(listed, key=ordinal_key)
        with self.store.locked():
            result = unmask_round(job, round_, chain_id, global_model, participants, seed, threshold, keys, survivors,
                                  survivor_signatures, [u for u in updates if u is not None], [r for r in reveals if r is not None])
        parameters, receipts, rejected = result
        return self.workload.finish_round(job, round_, chain_id, registry, global_model, standardization, parameters, survivors,
                                          sum_samples(by_id, survivors), merkle_root(receipts), rejected, optimizer)


def sum_samples(by_id, ids):
    total = 0
    for vpod in ids:
        total += by_id[vpod]["assignedSamples"]
    return total


def read_masked_update(entry, i):
    """One copy of a masked update {"receipt", "masked", "maskedWith", "maxSamples"}; None without a receipt. Values of the
    wrong type make the copy unusable (it is that copy's rejection), never the request's."""
    what = f"updates[{i}]"
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise BadRequest(f"{what} must be a JSON object.")
    receipt = get_object(entry, "receipt", f"{what}.receipt")
    if receipt is None:
        return None
    parsed = {"job": get_string(receipt, "job", f"{what}.receipt.job") or "",
              "round": get_int(receipt, "round", what=f"{what}.receipt.round"),
              "vpod": get_string(receipt, "vpod", f"{what}.receipt.vpod") or "",
              "sampleCount": get_int(receipt, "sampleCount", INT64, f"{what}.receipt.sampleCount"),
              "updateHash": get_string(receipt, "updateHash", f"{what}.receipt.updateHash") or "",
              "signature": get_string(receipt, "signature", f"{what}.receipt.signature")}
    masked, masked_with, max_samples = entry.get("masked"), entry.get("maskedWith"), entry.get("maxSamples")
    if not (isinstance(masked, list) and all(is_int(v) and 0 <= v <= UINT32_MASK for v in masked)):
        masked = None
    if not (isinstance(masked_with, list) and all(isinstance(v, str) and v for v in masked_with)
            and len(set(masked_with)) == len(masked_with)):
        masked_with = None
    if not (is_int(max_samples) and 0 <= max_samples <= INT64[1]):
        max_samples = None
    return {"receipt": parsed, "masked": masked, "maskedWith": masked_with, "maxSamples": max_samples}


def read_reveal(entry, i):
    """{"vpodId", "shares": [{"peer", "kind", "share"}], "signature"} as (vpodId, [(peer, kind, share in lower case)], signature),
    or None for a reveal that cannot be read (an unknown kind, a share that is not 0x and hex bytes: it is ignored)."""
    what = f"reveals[{i}]"
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise BadRequest(f"{what} must be a JSON object.")
    vpod, signature, shares = entry.get("vpodId"), entry.get("signature"), entry.get("shares")
    if not isinstance(vpod, str) or not isinstance(signature, str) or not isinstance(shares, list):
        return None
    parsed = []
    for share in shares:
        if not isinstance(share, dict):
            return None
        peer, kind, value = share.get("peer"), share.get("kind"), share.get("share")
        if not isinstance(peer, str) or kind not in (SELF_MASK_KIND, MASK_KEY_KIND) or not isinstance(value, str) \
                or not HEX_BYTES.fullmatch(value):
            return None
        parsed.append((peer, kind, value.lower()))
    return vpod, parsed, signature


def check_masked_update(job, round_, chain_id, participant, update, parameter_count, max_samples, advertised_neighbours):
    """Why a copy of a survivor's masked update is invalid, or None; the second value is the copy's encoding hash."""
    receipt = update["receipt"]
    if receipt["job"] != job or receipt["round"] != round_:
        return f"receipt is for job '{receipt['job']}' round {receipt['round']}, not job '{job}' round {round_}", None
    if receipt["sampleCount"] != participant["assignedSamples"]:
        return f"receipt claims {receipt['sampleCount']} samples; the job placed {participant['assignedSamples']} rows with this vPod", None
    if update["masked"] is None or len(update["masked"]) != parameter_count:
        return f"masked holds {'no' if update['masked'] is None else len(update['masked'])} uint32 values; the model has {parameter_count} parameters", None
    if update["maxSamples"] != max_samples:
        return f"maxSamples is {update['maxSamples']}; the largest assigned count is {max_samples}", None
    if update["maskedWith"] is None:
        return "maskedWith is not a list of distinct vPod ids", None
    outside = [v for v in update["maskedWith"] if v not in advertised_neighbours]
    if outside:
        return f"maskedWith names '{outside[0]}', not one of its neighbours that advertised keys", None
    computed = to_hex(keccak256(masked_update_encoding(update["masked"], update["maxSamples"], update["maskedWith"])))
    if computed != receipt["updateHash"].lower():
        return f"receipt says update hash {receipt['updateHash']}, the masked update hashes to {computed}", None
    struct_hash = receipt_hash(receipt["job"], receipt["round"], receipt["vpod"], receipt["sampleCount"], receipt["updateHash"])
    signer = None if struct_hash is None else recover_address(typed_digest(vpod_domain(chain_id), struct_hash), parse_signature(receipt["signature"]))
    if signer is None or signer != participant["address"].lower():
        return "receipt signature does not recover to the vPod's admitted address", None
    return None, computed


def unmask_round(job, round_, chain_id, global_model, participants, seed, threshold, key_entries, survivors, survivor_signatures,
                 updates, reveals):
    """SecureRoundAggregator: the FedAvg of the survivors' updates from their masked sum. Returns (parameters, the survivors'
    receipt struct hashes, rejected [(vpod, reason)]); 409 when the round cannot be unmasked."""
    by_id = {p["vpodId"]: p for p in participants}
    facts = SecureRound([(p["vpodId"], p["address"].lower()) for p in participants], seed, threshold)
    t = threshold
    parameters_count = len(global_model[2])
    max_samples = max(p["assignedSamples"] for p in participants)

    # 1. The advertised keys and the survivor set, signed by t survivors.
    advertised = facts.advertised(chain_id, job, round_, key_entries)
    missing = [vpod for vpod in survivors if vpod not in advertised]
    if missing:
        raise Conflict(f"survivor '{missing[0]}' has no key pair signed by its address for job '{job}' round {round_}.")
    if len(survivors) < t:
        raise Conflict(f"the survivor set of job '{job}' round {round_} holds {len(survivors)} vPods; the threshold is t = {t}.")
    signers = facts.valid_survivor_signers(chain_id, job, round_, survivors, survivor_signatures)
    if len(signers) < t:
        raise Conflict(f"only {len(signers)} survivors signed the survivor set of job '{job}' round {round_}; the threshold is t = {t}.")
    survivor_set = set(survivors)

    def neighbours_of(vpod):
        return {v for v in facts.neighbourhood(round_, vpod) if v in advertised and v != vpod}

    # 2. One valid masked update per survivor, and mask sets that agree.
    copies = {}
    for update in updates:
        copies.setdefault(update["receipt"]["vpod"], []).append(update)
    chosen = {}
    for vpod in survivors:
        received = copies.get(vpod)
        if not received:
            raise Conflict(f"no masked update of survivor '{vpod}' was sent for job '{job}' round {round_}.")
        valid, first_reason = {}, None
        for update in received:
            reason, computed = check_masked_update(job, round_, chain_id, by_id[vpod], update, parameters_count, max_samples,
                                                   neighbours_of(vpod))
            if reason is None:
                valid.setdefault(computed, update)
            elif first_reason is None:
                first_reason = reason
        if not valid:
            raise Conflict(f"the masked update of survivor '{vpod}' is invalid: {first_reason}.")
        if len(valid) > 1:
            raise Conflict(f"survivor '{vpod}' signed {len(valid)} different masked updates for round {round_}.")
        chosen[vpod] = next(iter(valid.values()))
    masked_with = {vpod: set(chosen[vpod]["maskedWith"]) for vpod in survivors}
    for i in survivors:
        for j in sorted(masked_with[i], key=ordinal_key):
            if j in survivor_set and i not in masked_with[j]:
                raise Conflict(f"survivor '{i}' masked with '{j}' but '{j}' did not mask with '{i}': their masks would not cancel.")

    # 3. The reveals signed by survivors; a revealer that shows what it must not is excluded.
    # The first reveal of each survivor that its key signed counts: a forged copy that arrived first never hides the real one.
    first = {}
    for revealer, shares, signature in reveals:
        if revealer in survivor_set and revealer not in first \
                and recover_address(secagg_reveal_digest(chain_id, job, round_, revealer, shares), parse_signature(signature)) == facts.addresses[revealer]:
            first[revealer] = shares
    rejected, usable = [], {}
    for revealer in sorted(first, key=ordinal_key):
        shares = first[revealer]
        peers, twice, forbidden = set(), None, None
        for peer, kind, _ in shares:
            if peer in peers and twice is None:
                twice = peer
            peers.add(peer)
            if forbidden is None and kind == (MASK_KEY_KIND if peer in survivor_set else SELF_MASK_KIND):
                forbidden = (peer, kind)
        reason = None
        if twice is not None:
            reason = f"revealed two shares of '{twice}'"
        elif forbidden is not None:
            reason = f"revealed the {forbidden[1]} share of {'survivor' if forbidden[0] in survivor_set else 'non-survivor'} '{forbidden[0]}'"
        if reason is not None:
            rejected.append((revealer, f"{reason} in round {round_}; its shares are not used"))
            continue
        usable[revealer] = shares

    def reconstruct(peer, kind):
        holders = facts.neighbourhood(round_, peer)
        points = []
        for revealer in sorted(usable, key=lambda v: facts.index[v]):
            if revealer not in holders:
                continue
            for share_peer, share_kind, share in usable[revealer]:
                if share_peer == peer and share_kind == kind:
                    points.append((facts.index[revealer] + 1, bytes.fromhex(share[2:])))
        if len(points) < t:
            raise Conflict(f"only {len(points)} {kind} shares of '{peer}' were revealed for job '{job}' round {round_}; "
                           f"the threshold is t = {t}.")
        if any(len(y) != SHAMIR_SHARE_BYTES for _, y in points):
            raise Conflict(f"a revealed {kind} share of '{peer}' is not {SHAMIR_SHARE_BYTES} bytes (t = {t}).")
        chosen_points = [(x, int.from_bytes(y, "big")) for x, y in points[:t]]
        if any(y >= SHAMIR_PRIME for _, y in chosen_points):
            raise Conflict(f"a revealed {kind} share of '{peer}' is not below 2^521 - 1 (t = {t}).")
        return shamir_reconstruct(chosen_points)

    # 4. Every survivor's self mask, and the mask key of every non-survivor some survivor masked with.
    self_masks = {}
    for vpod in survivors:
        secret = reconstruct(vpod, SELF_MASK_KIND)
        if secret is None:
            raise Conflict(f"the self-mask shares of '{vpod}' give no 32-byte secret (t = {t}).")
        self_masks[vpod] = secret
    dropped_keys = {}
    for vpod in sorted({j for i in survivors for j in masked_with[i] if j not in survivor_set}, key=ordinal_key):
        secret = reconstruct(vpod, MASK_KEY_KIND)
        scalar = None if secret is None else int.from_bytes(secret, "big")
        if scalar is None or not 0 < scalar < P256_ORDER or to_hex(p256_public_bytes(p256_public_of(scalar))) != advertised[vpod][1]:
            raise Conflict(f"the mask-key shares of '{vpod}' do not give its advertised mask key (t = {t}).")
        dropped_keys[vpod] = scalar

    # 5. The sum, without the masks, and its dequantized weighted average.
    total = [0] * parameters_count
    weight_sum = 0.0
    for vpod in survivors:
        add_words(total, chosen[vpod]["masked"], 1)
        add_words(total, prg_words(self_masks[vpod], parameters_count), -1)
        for peer in sorted(masked_with[vpod], key=ordinal_key):
            if peer in survivor_set:
                continue
            seed_ = mask_seed(dropped_keys[peer], p256_parse_public(advertised[vpod][1]))
            add_words(total, prg_words(seed_, parameters_count), -pairwise_sign(vpod, peer))
        weight_sum += float(by_id[vpod]["assignedSamples"]) / float(max_samples)
    parameters = dequantize(global_model[2], total, len(survivors), weight_sum)
    receipts = []
    for vpod in survivors:
        r = chosen[vpod]["receipt"]
        receipts.append(receipt_hash(r["job"], r["round"], r["vpod"], r["sampleCount"], r["updateHash"]))
    rejected.sort(key=lambda r: ordinal_key(r[0]))
    return parameters, receipts, rejected


# ---------------------------------------------------------------------------------------------------------------------
# Blocks: a storage vPod's content-addressed store, {key_dir}/blocks/{xy}/{cid}, with CIDs read as src/Protocol/Storage/Cid.cs
# reads them (CIDv1, raw or dag-pb, sha2-256, lower-case base32, shortest varints) and the same messages.
# ---------------------------------------------------------------------------------------------------------------------

BLOCKS_PATH = "/v2/blocks"
BLOCKS_DIR = "blocks"
MAX_BLOCK_BYTES = 1024 * 1024
BLOCK_MEDIA_TYPE = "application/vnd.ipld.raw"
CID_CODECS = (0x55, 0x70)  # raw, dag-pb
SHA256_CODE = 0x12
DIGEST_LENGTH = 32
BASE32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
CIDV0_MESSAGE = "CIDv0 is not supported; use the CIDv1 form (ipfs cid format -v 1 -b base32)"


def _shorten(text):
    return text if len(text) <= 80 else text[:77] + "..."


def base32_decode(text):
    """RFC 4648 base32, lower case, no padding; raises ValueError naming a character outside the alphabet, an impossible length or
    non-zero padding bits."""
    if len(text) % 8 in (1, 3, 6):
        raise ValueError(f"{len(text)} base32 characters cannot encode whole bytes")
    out = bytearray()
    buffer = bits = 0
    for i, c in enumerate(text):
        value = BASE32_ALPHABET.find(c)
        if value < 0:
            raise ValueError(f"'{c}' at position {i} is not a lower-case base32 character (a-z, 2-7)")
        buffer = ((buffer << 5) | value) & 0xFFFF
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((buffer >> bits) & 0xFF)
    if buffer & ((1 << bits) - 1):
        raise ValueError("the last base32 character has non-zero padding bits")
    return bytes(out)


def read_varint(data, position):
    """An unsigned LEB128 varint at data[position:], in its shortest form (as multiformats requires): (value, next position)."""
    value = 0
    for i in range(10):
        if position + i >= len(data):
            raise ValueError("a varint is truncated (the input ends inside it)")
        b = data[position + i]
        if i == 9 and b > 1:
            break
        value |= (b & 0x7F) << (7 * i)
        if b < 0x80:
            if b == 0 and i > 0:
                raise ValueError("a varint is not minimally encoded")
            return value, position + i + 1
    raise ValueError("a varint overflows 64 bits")


def parse_cid(text):
    """The sha2-256 digest of a CID's text form; BadRequest naming what is wrong (CIDv0, another base, version, codec or hash)."""
    if not text:
        raise BadRequest("A CID cannot be empty.")
    if text.startswith("Qm"):
        raise BadRequest(f"'{_shorten(text)}' is a CIDv0: {CIDV0_MESSAGE}.")
    if text[0] != "b":
        raise BadRequest(f"'{_shorten(text)}' uses the multibase prefix '{text[0]}'; only 'b' (base32, lower case, no padding) is supported.")
    try:
        data = base32_decode(text[1:])
    except ValueError as e:
        raise BadRequest(f"'{_shorten(text)}' is not valid base32: {e}.")

    def unsupported(reason):
        return BadRequest(f"'{_shorten(text)}' is not a supported CID: {reason}")

    if not data:
        raise unsupported("a CID cannot be empty.")
    if len(data) >= 2 and data[0] == SHA256_CODE and data[1] == DIGEST_LENGTH:
        raise unsupported(f"the bytes are a CIDv0 (a bare sha2-256 multihash): {CIDV0_MESSAGE}.")

    def field(position, what):
        try:
            return read_varint(data, position)
        except ValueError as e:
            raise unsupported(f"{what} is unreadable: {e}.")

    version, position = field(0, "the CID version")
    if version != 1:
        raise unsupported(f"CID version {version} is not supported; only CIDv1.")
    codec, position = field(position, "the CID codec")
    if codec not in CID_CODECS:
        raise unsupported(f"codec 0x{codec:x} is not supported; only raw (0x55) and dag-pb (0x70).")
    hash_code, position = field(position, "the multihash code")
    if hash_code != SHA256_CODE:
        raise unsupported(f"multihash 0x{hash_code:x} is not supported; only sha2-256 (0x12).")
    length, position = field(position, "the multihash length")
    if length != DIGEST_LENGTH:
        raise unsupported(f"a sha2-256 multihash of {length} bytes is not supported; only the full 32-byte digest.")
    if len(data) - position < DIGEST_LENGTH:
        raise unsupported(f"the digest is truncated ({len(data) - position} of 32 bytes).")
    if len(data) - position > DIGEST_LENGTH:
        raise BadRequest(f"'{_shorten(text)}' has {len(data) - position - DIGEST_LENGTH} trailing bytes after the CID.")
    return data[position:]


# A model's CID, as `ipfs add --cid-version 1` computes it (UnixFsFile.ComputeCid): 262,144-byte chunks as raw leaves; a file of one
# chunk is its leaf; otherwise a balanced tree of dag-pb UnixFS file nodes of at most 174 links, each link with an empty name and its
# Tsize, the node's Data {Type: file, filesize, blocksizes} after the links. Validators sign it with the round.

UNIXFS_CHUNK = 262144
UNIXFS_MAX_LINKS = 174


def write_varint(value):
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | 0x80 if value else low)
        if not value:
            return bytes(out)


def cid_bytes(codec, block):
    return bytes([1, codec, SHA256_CODE, DIGEST_LENGTH]) + hashlib.sha256(block).digest()


def _unixfs_file_node(children):
    """A dag-pb file node over (cid, tsize, filesize) children: its (cid, tsize, filesize) as a child of the next level."""
    links = b""
    for cid, tsize, _ in children:
        link = b"\x0a" + write_varint(len(cid)) + cid + b"\x12\x00" + b"\x18" + write_varint(tsize)
        links += b"\x12" + write_varint(len(link)) + link
    filesize = sum(size for _, _, size in children)
    unixfs = b"\x08\x02\x18" + write_varint(filesize) + b"".join(b"\x20" + write_varint(size) for _, _, size in children)
    node = links + b"\x0a" + write_varint(len(unixfs)) + unixfs
    return cid_bytes(0x70, node), len(node) + sum(tsize for _, tsize, _ in children), filesize


def cid_text(cid):
    """A binary CID's text form: the multibase prefix 'b' and lower-case base32 without padding."""
    return "b" + base64.b32encode(cid).decode("ascii").lower().rstrip("=")


def unixfs_file_cid(data):
    """The binary CIDv1 of a file's UnixFS DAG (36 bytes)."""
    levels, totals = [], []

    def add(level, child):
        if level == len(levels):
            levels.append([])
            totals.append(0)
        levels[level].append(child)
        totals[level] += 1
        if len(levels[level]) == UNIXFS_MAX_LINKS:
            node, levels[level] = _unixfs_file_node(levels[level]), []
            add(level + 1, node)

    offset = 0
    while True:
        chunk = data[offset:offset + UNIXFS_CHUNK]
        add(0, (cid_bytes(0x55, chunk), len(chunk), len(chunk)))
        offset += len(chunk)
        if offset >= len(data):
            break
    level = 0
    while level < len(levels):
        if totals[level] == 1:
            return levels[level][0][0]
        if levels[level]:
            node, levels[level] = _unixfs_file_node(levels[level]), []
            add(level + 1, node)
        level += 1
    raise RuntimeError("a file has at least one leaf")


class BlockStore:
    """A storage vPod's blocks: {key_dir}/blocks/{xy}/{cid}, xy the CID's next-to-last two characters (so no directory grows past a
    few thousand entries). A block is stored only when it hashes to its CID, through a temporary file that is flushed and renamed,
    then its directory flushed: a block that is listed is whole and on disk."""

    def __init__(self, key_dir):
        self.root = os.path.join(key_dir, BLOCKS_DIR)
        self.lock = threading.Lock()

    def path_of(self, cid):
        return os.path.join(self.root, cid[-3:-1], cid)

    def put(self, cid, digest, data):
        """Stores data under cid, whose sha2-256 digest parse_cid gave; False when it was there already."""
        if not hmac.compare_digest(hashlib.sha256(data).digest(), digest):
            raise BadRequest(f"the body does not hash to {cid}: nothing was stored.")
        path = self.path_of(cid)
        directory = os.path.dirname(path)
        with self.lock:
            if os.path.exists(path):
                return False
            if not os.path.isdir(directory):
                os.makedirs(directory, exist_ok=True)
                _fsync_directory(self.root)
                _fsync_directory(os.path.dirname(self.root))
            write_atomically(directory, cid, data)
            _fsync_directory(directory)
        return True

    def get(self, cid):
        """The block's bytes, or None when it is not here."""
        try:
            with open(self.path_of(cid), "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def delete(self, cid):
        with self.lock:
            try:
                os.unlink(self.path_of(cid))
            except FileNotFoundError:
                pass

    def list(self):
        """[{"cid", "size"}] of every stored block, sorted by CID (ordinal); temporary files and anything not a CID are skipped."""
        blocks = []
        for directory, _, names in os.walk(self.root):
            for name in names:
                try:
                    parse_cid(name)
                    size = os.path.getsize(os.path.join(directory, name))
                except (BadRequest, FileNotFoundError):
                    continue
                blocks.append({"cid": name, "size": size})
        blocks.sort(key=lambda b: ordinal_key(b["cid"]))
        return blocks


def block_cid(path):
    """The {cid} of /v2/blocks/{cid} (not yet checked), or None for another path."""
    prefix = BLOCKS_PATH + "/"
    cid = path[len(prefix):] if path.startswith(prefix) else ""
    return cid if cid and "/" not in cid else None


def make_handler(workload):
    routes = {"/v2/identity": workload.identity, "/v2/data": workload.data, "/v2/statistics": workload.statistics,
              "/v2/train": workload.train, "/v2/evaluate": workload.evaluate, "/v2/aggregate": workload.aggregate,
              "/v2/sign-rotation": workload.sign_rotation}
    secure = SecureAggregation(workload)
    routes.update({"/v2/secagg/keys": secure.keys, "/v2/secagg/shares": secure.shares, "/v2/secagg/train": secure.train,
                   "/v2/secagg/survivors": secure.survivors, "/v2/secagg/reveal": secure.reveal,
                   "/v2/secagg/aggregate": secure.aggregate})

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def send_json(self, status, value):
            payload = json.dumps(value, allow_nan=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def send_empty(self, status):
            self.send_response(status)
            if status != 204:
                self.send_header("Content-Length", "0")
            self.end_headers()

        def known(self, path):
            """Whether some method serves path (then another method answers 405, not 404)."""
            return path == "/healthz" or path in routes or path == BLOCKS_PATH or block_cid(path) is not None

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            cid = block_cid(path)
            if self.path == "/healthz":
                self.send_json(200, workload.health())
            elif path == BLOCKS_PATH:
                self.answer(lambda: self.send_json(200, {"vpodId": workload.vpod_id, "blocks": workload.blocks.list()}))
            elif cid is not None:
                self.answer(lambda: self.send_block(cid))
            elif self.path in routes:
                self.send_json(405, {"error": f"{self.path} takes POST"})
            else:
                self.send_json(404, {"error": f"no route GET {self.path}"})

        def send_block(self, cid):
            parse_cid(cid)
            data = workload.blocks.get(cid)
            if data is None:
                self.send_json(404, {"error": f"block {cid} is not stored here."})
                return
            self.send_response(200)
            self.send_header("Content-Type", BLOCK_MEDIA_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self):
            path = self.path.split("?", 1)[0]
            cid = block_cid(path)
            raw = self.read_body(MAX_BLOCK_BYTES)
            if cid is None:
                self.send_json(405 if self.known(path) else 404, {"error": f"no route PUT {self.path}"})
                return

            def put():
                digest = parse_cid(cid)
                if raw is None:
                    self.send_json(413, {"error": f"a block is at most {MAX_BLOCK_BYTES} bytes."})
                else:
                    self.send_empty(201 if workload.blocks.put(cid, digest, raw) else 204)
            self.answer(put)

        def do_DELETE(self):
            path = self.path.split("?", 1)[0]
            cid = block_cid(path)
            self.read_body(0)
            if cid is None:
                self.send_json(405 if self.known(path) else 404, {"error": f"no route DELETE {self.path}"})
                return

            def delete():
                parse_cid(cid)
                workload.blocks.delete(cid)
                self.send_empty(204)
            self.answer(delete)

        def answer(self, respond):
            """Runs respond, answering BadRequest with 400 and anything unexpected with 500."""
            try:
                respond()
            except BadRequest as e:
                self.send_json(400, {"error": str(e)})
            except Exception as e:  # noqa: BLE001 - answered, and logged with its traceback
                traceback.print_exc()
                self.send_json(500, {"error": f"internal error in {self.command} {self.path}: {type(e).__name__}: {e}"})

        def read_body(self, limit=MAX_BODY_BYTES):
            """The body, or None when it is larger than limit. A body too large is still read (and dropped) up to MAX_BODY_BYTES, so
            the client reads the answer and the connection stays usable; a larger one closes the connection unread."""
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks, size_so_far = [], 0
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks) if size_so_far <= limit else None
                    size_so_far += size
                    if size_so_far > MAX_BODY_BYTES:
                        self.close_connection = True
                        return None
                    chunk = self.rfile.read(size)
                    if size_so_far <= limit:
                        chunks.append(chunk)
                    else:
                        chunks.clear()
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            if length > limit:
                if length > MAX_BODY_BYTES:
                    self.close_connection = True
                else:
                    while length > 0:
                        chunk = self.rfile.read(min(length, 1 << 16))
                        if not chunk:
                            break
                        length -= len(chunk)
                return None
            return self.rfile.read(length) if length > 0 else b""

        def do_POST(self):
            raw = self.read_body()
            if raw is None:
                self.close_connection = True
                self.send_json(413, {"error": f"the body is larger than {MAX_BODY_BYTES} bytes."})
                return
            handle = routes.get(self.path)
            if handle is None:
                self.send_json(405 if self.known(self.path) else 404, {"error": f"no route POST {self.path}"})
                return
            try:
                if raw:
                    body = parse_json(raw)
                elif self.path == "/v2/statistics":
                    body = None
                else:
                    raise BadRequest("The request has no body; send a JSON object.")
                self.send_json(200, handle(body))
            except BadRequest as e:
                self.send_json(400, {"error": str(e)})
            except Conflict as e:
                self.send_json(409, {"error": str(e)})
            except Exception as e:  # noqa: BLE001 - answered, and logged with its traceback
                traceback.print_exc()
                self.send_json(500, {"error": f"internal error in {self.path}: {type(e).__name__}: {e}"})

        def log_message(self, fmt, *args):
            sys.stdout.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), fmt % args))
            sys.stdout.flush()

    return Handler


def main():
    host = os.environ.get("METANODE_HOST") or "127.0.0.1"
    port_text = (os.environ.get("METANODE_PORT") or "8080").strip()
    if not port_text.isdigit() or int(port_text) > 65535:
        print(f"error: METANODE_PORT='{port_text}' is not a port number (0 to 65535).", file=sys.stderr)
        return 2
    vpod_id = (os.environ.get("METANODE_VPOD_ID") or "").strip() or "unknown"
    data_dir = os.path.abspath((os.environ.get("METANODE_DATA_DIR") or "").strip() or "/vpod/data")
    key_dir = os.path.abspath((os.environ.get("METANODE_KEY_DIR") or "").strip() or "/vpod/key")
    try:
        key, created = load_or_create_key(key_dir)
    except KeyFileError as e:
        print(f"error: {e} (METANODE_KEY_DIR='{key_dir}')", file=sys.stderr)
        return 2
    try:
        server = ThreadingHTTPServer((host, int(port_text)), make_handler(Workload(vpod_id, data_dir, key_dir, key)))
    except OSError as e:
        print(f"error: cannot listen on {host}:{port_text} (METANODE_HOST, METANODE_PORT): {e}", file=sys.stderr)
        return 2
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"vPod {vpod_id} python workload {'created' if created else 'loaded'} key {key.address} in {key_dir}", flush=True)
    print(f"vPod {vpod_id} python workload (protocol {PROTOCOL_VERSION}) listening on http://{host}:{server.server_address[1]}, "
          f"data in {data_dir}, address {key.address}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    print(f"vPod {vpod_id} python workload stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
