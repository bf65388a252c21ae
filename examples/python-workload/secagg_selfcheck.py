#!/usr/bin/python3
"""Self-check of the Python workload's secure aggregation (POST /v2/secagg/*), run by /usr/bin/python3; exit code 0 when every
check passes, 1 otherwise.

It starts four compute workloads and one validator workload of workload.py on loopback ports (METANODE_PORT=0, the port read
from the start-up line) over temporary data and key directories, places a tiny partition in each through /v2/data, and drives one
round: keys -> shares -> train -> survivors -> reveal -> aggregate, with one compute vPod killed after it sent its masked update
(the job never received it), so the survivors reveal its mask key. It checks that the unmasked model is the weighted FedAvg of
the survivors' plaintext updates (/v2/train on the same requests) within the quantization error 2c/(Q-1) per client and
coordinate, that repeated requests get the same answers (also across a restart), and that the refusals are 400 or 409.

    /usr/bin/python3 secagg_selfcheck.py             the round, printing one line per check
    /usr/bin/python3 secagg_selfcheck.py --vectors   the deterministic primitives for fixed inputs, as JSON (the C# tests compare
                                                     them with the C# implementation)
    /usr/bin/python3 secagg_selfcheck.py --transcript FILE
                                                     the round, and its validator request and answer (and the plaintext updates)
                                                     written to FILE as JSON
"""

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "workload.py")
sys.path.insert(0, HERE)
import workload as wl  # noqa: E402  (the implementation's own helpers sign the requests a malicious vPod would send)

CHAIN_ID = 31337
REGISTRY = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
JOB = "job-secagg-check"
JOB_SEED = 4242
ROUND = 2
THRESHOLD = 3
CLASSES, FEATURES = 3, 4
COMPUTE_ROWS = {"vpod-c00": 12, "vpod-c01": 9, "vpod-c02": 15, "vpod-c03": 10}
DROPPED = "vpod-c02"
VALIDATOR = "vpod-v00"
HYPER = {"epochs": 3, "batchSize": 4, "learningRate": 0.1}
START_TIMEOUT = 30


# ---------------------------------------------------------------------------------------------------------------------
# Deterministic primitives for fixed inputs (--vectors).
# ---------------------------------------------------------------------------------------------------------------------

def vectors():
    cipher_key = wl.p256_public_bytes(wl.p256_public_of(1))
    mask_key = wl.p256_public_bytes(wl.p256_public_of(2))
    update = [0.5, -0.25, 1e-3, 3.0, -7.5, 9.0, -9.0, 0.0, 2.0 ** -30, 1.0 / 3.0]
    global_parameters = [0.0, 0.125, -1e-3, 1.0, 0.5, -0.5, 0.0, -0.0, 0.0, 0.25]
    quantized = wl.quantize(update, global_parameters, 7, 10, 42, 3, "vpod-a")
    shares = [("vpod-b", "self-mask", "0x" + "01" * 66), ("vpod-a", "mask-key", "0x" + "00" * 65 + "02")]
    masked = [1, 2, 3, 0xFFFFFFFF, 0]
    graphs = {}
    for n in (5, 41, 42, 50, 64, 101):
        d = wl.neighbourhood_size(n)
        graphs[str(n)] = {"d": d, "neighbours": [sorted(v) for v in wl.neighbour_graph(n, d, 42, 3)]}
    # A fixed polynomial of degree 2 whose constant is a 32-byte secret, at x = 1, 3, 4 and 6; and three shares whose constant is too large.
    secret = wl.keccak256(b"metanode-selfcheck:shamir secret")
    coefficients = [int.from_bytes(secret, "big"), int.from_bytes(wl.keccak256(b"a1"), "big") << 200, 12345]
    shamir_shares = {x: sum(a * x ** k for k, a in enumerate(coefficients)) % wl.SHAMIR_PRIME for x in (1, 3, 4, 6)}
    reconstructed = wl.shamir_reconstruct([(x, shamir_shares[x]) for x in (1, 3, 4)])
    too_large = {x: (1 << 300) + 5 * x for x in (1, 3, 4)}  # f(0) = 2^300: no 32-byte secret
    no_secret = wl.shamir_reconstruct(list(too_large.items()))
    return {
        "seeds": {"graph": wl.derive_seed(42, wl.GRAPH_PURPOSE, 3), "quantize": wl.derive_seed(42, wl.QUANTIZE_PURPOSE, 3, "vpod-a"),
                  "train": wl.derive_seed(42, "train", 1, "vpod-a")},
        "prg": {"seed": "0x" + bytes(range(32)).hex(), "words": wl.prg_words(bytes(range(32)), 20)},
        "hkdf": {"secret": "0x" + bytes(range(32)).hex(), "mask": wl.to_hex(wl.hkdf(bytes(range(32)), wl.MASK_INFO)),
                 "share": wl.to_hex(wl.hkdf(bytes(range(32)), wl.SHARE_INFO))},
        "ecdh": {"secret": 3, "peer": wl.to_hex(mask_key), "shared": wl.to_hex(wl.ecdh(3, wl.p256_public_of(2)))},
        "graphs": graphs,
        "quantize": {"update": update, "global": global_parameters, "samples": 7, "maxSamples": 10, "seed": 42, "round": 3,
                     "vpodId": "vpod-a", "quantized": quantized},
        "dequantize": {"global": global_parameters[:4], "sum": [4194303, 0, 2097151, 6291455], "survivors": 2, "weightSum": 1.7,
                       "model": wl.dequantize(global_parameters[:4], [4194303, 0, 2097151, 6291455], 2, 1.7)},
        "maskedEncoding": {"masked": masked, "maxSamples": 10, "maskedWith": ["vpod-b", "vpod-a"],
                           "hash": wl.to_hex(wl.keccak256(wl.masked_update_encoding(masked, 10, ["vpod-b", "vpod-a"])))},
        "typed": {"chainId": CHAIN_ID, "job": "job-1", "round": 3, "vpod": "vpod-a",
                  "cipherKey": wl.to_hex(cipher_key), "maskKey": wl.to_hex(mask_key),
                  "keysDigest": wl.to_hex(wl.secagg_keys_digest(CHAIN_ID, "job-1", 3, "vpod-a", cipher_key, mask_key)),
                  "survivors": ["vpod-b", "vpod-a", "vpod-c"],
                  "survivorsHash": wl.to_hex(wl.survivors_hash(["vpod-b", "vpod-a", "vpod-c"])),
                  "survivorsDigest": wl.to_hex(wl.secagg_survivors_digest(CHAIN_ID, "job-1", 3, "vpod-a", ["vpod-b", "vpod-a", "vpod-c"])),
                  "shares": [{"peer": p, "kind": k, "share": s} for p, k, s in shares],
                  "sharesHash": wl.to_hex(wl.reveal_shares_hash(shares)),
                  "revealDigest": wl.to_hex(wl.secagg_reveal_digest(CHAIN_ID, "job-1", 3, "vpod-a", shares))},
        "shamir": {"threshold": 3, "shares": {str(x): wl.share_hex(y.to_bytes(66, "big")) for x, y in shamir_shares.items()},
                   "secret": wl.to_hex(reconstructed),
                   "noSecret": {"shares": {str(x): wl.share_hex(y.to_bytes(66, "big")) for x, y in too_large.items()},
                                "secret": None if no_secret is None else wl.to_hex(no_secret)}},
    }


# ---------------------------------------------------------------------------------------------------------------------
# Workload processes and HTTP.
# ---------------------------------------------------------------------------------------------------------------------

class WorkloadProcess:
    def __init__(self, vpod_id, root):
        self.vpod_id = vpod_id
        self.data_dir = os.path.join(root, vpod_id, "data")
        self.key_dir = os.path.join(root, vpod_id, "key")
        self.process, self.port, self.lines = None, None, []
        os.makedirs(self.key_dir, mode=0o700, exist_ok=True)
        key = wl.VPodKey(int.from_bytes(wl.keccak256(f"metanode-selfcheck:{vpod_id}".encode()), "big"))
        with open(os.path.join(self.key_dir, wl.KEY_FILE), "w") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(json.dumps({"address": key.address, "privateKey": "0x" + key.secret.to_bytes(32, "big").hex()}) + "\n")
        self.key = key

    def start(self):
        environment = dict(os.environ, METANODE_HOST="127.0.0.1", METANODE_PORT="0", METANODE_VPOD_ID=self.vpod_id,
                           METANODE_DATA_DIR=self.data_dir, METANODE_KEY_DIR=self.key_dir)
        self.process = subprocess.Popen([sys.executable, SCRIPT], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        listening = threading.Event()

        def drain():
            for line in self.process.stdout:
                self.lines.append(line.rstrip("\n"))
                match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
                if match:
                    self.port = int(match.group(1))
                    listening.set()
            listening.set()

        threading.Thread(target=drain, daemon=True).start()
        if not listening.wait(START_TIMEOUT) or self.port is None:
            raise RuntimeError(f"{self.vpod_id} did not start: " + "\n".join(self.lines[-20:]))

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process, self.port = None, None

    def post(self, path, body):
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=json.dumps(body).encode("utf-8"),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode("utf-8"))


class Checks:
    def __init__(self):
        self.failures = 0

    def check(self, condition, what, detail=""):
        print(f"{'ok  ' if condition else 'FAIL'} {what}{'' if condition or not detail else ': ' + str(detail)}", flush=True)
        if not condition:
            self.failures += 1
        return condition

    def status(self, answer, expected, what):
        status, body = answer
        return self.check(status == expected, f"{what} answers {expected}", f"{status} {body}")


# ---------------------------------------------------------------------------------------------------------------------
# The round.
# ---------------------------------------------------------------------------------------------------------------------

def rows(count, offset):
    """count rows of FEATURES numbers and a label, reproducible and roughly separable."""
    lines = []
    for r in range(count):
        label = (r + offset) % CLASSES
        features = [round(((r * 7 + j * 3 + offset) % 11) / 10.0 + (1.5 if j == label else 0.0), 3) for j in range(FEATURES)]
        lines.append(",".join(repr(x) for x in features) + f",{label}\n")
    return "".join(lines)


def placement(split, content):
    manifest = {"format": "metanode-partition/1", "dataset": "selfcheck", "features": FEATURES, "classes": CLASSES,
                "splits": {split: {"file": f"{split}.csv", "rows": content.count("\n")}}}
    files = [(f"{split}.csv", content.encode()), ("manifest.json", json.dumps(manifest).encode())]
    return {"files": [{"name": name, "content": base64.b64encode(data).decode()} for name, data in files]}


def run_round(root, checks, transcript_path=None):
    computes = {vpod: WorkloadProcess(vpod, root) for vpod in COMPUTE_ROWS}
    validator = WorkloadProcess(VALIDATOR, root)
    everyone = list(computes.values()) + [validator]
    try:
        for w in everyone:
            w.start()
        for i, (vpod, count) in enumerate(COMPUTE_ROWS.items()):
            checks.status(computes[vpod].post("/v2/data", placement("train", rows(count, i))), 200, f"{vpod} /v2/data")
        checks.status(validator.post("/v2/data", placement("test", rows(12, 7))), 200, f"{VALIDATOR} /v2/data")

        participants = [{"vpodId": vpod, "address": w.key.address} for vpod, w in computes.items()]
        keys_request = {"job": JOB, "round": ROUND, "chainId": CHAIN_ID, "seed": JOB_SEED, "threshold": THRESHOLD,
                        "participants": participants}

        # 1. keys
        keys = {}
        for vpod, w in computes.items():
            status, answer = w.post("/v2/secagg/keys", keys_request)
            checks.check(status == 200, f"{vpod} /v2/secagg/keys", answer)
            keys[vpod] = answer
        checks.check(computes["vpod-c00"].post("/v2/secagg/keys", keys_request) == (200, keys["vpod-c00"]),
                     "a repeated keys request gets the same keys")
        checks.status(computes["vpod-c00"].post("/v2/secagg/keys", dict(keys_request, threshold=5)), 400, "threshold above d")
        checks.status(computes["vpod-c00"].post("/v2/secagg/keys", dict(keys_request, threshold=2)), 400, "threshold below n/2 + 1")
        checks.status(computes["vpod-c00"].post("/v2/secagg/keys", dict(keys_request, participants=participants[1:])), 400,
                      "participants without this vPod")
        checks.status(computes["vpod-c00"].post("/v2/secagg/keys", dict(keys_request, threshold=4)), 409,
                      "another threshold for a fixed job")
        checks.status(computes["vpod-c00"].post("/v2/secagg/keys", dict(keys_request, job="../x")), 400, "a job id that is a path")
        for vpod, answer in keys.items():
            digest = wl.secagg_keys_digest(CHAIN_ID, JOB, ROUND, vpod, bytes.fromhex(answer["cipherKey"][2:]), bytes.fromhex(answer["maskKey"][2:]))
            checks.check(wl.recover_address(digest, wl.parse_signature(answer["signature"])) == computes[vpod].key.address,
                         f"{vpod}'s SecAggKeys signature recovers to its address")

        # 2. shares (a forged key entry is ignored)
        key_list = list(keys.values())
        forged = dict(keys["vpod-c01"], maskKey=keys["vpod-c00"]["maskKey"])
        shares_request = {"job": JOB, "round": ROUND, "keys": [forged] + key_list}
        envelopes = {}
        for vpod, w in computes.items():
            status, answer = w.post("/v2/secagg/shares", shares_request)
            checks.check(status == 200 and len(answer["shares"]) == 3, f"{vpod} /v2/secagg/shares: one envelope per other holder", answer)
            envelopes[vpod] = answer
        checks.check(computes["vpod-c01"].post("/v2/secagg/shares", shares_request) == (200, envelopes["vpod-c01"]),
                     "a repeated shares request gets the same envelopes")
        checks.status(computes["vpod-c01"].post("/v2/secagg/shares", {"job": JOB, "round": ROUND, "keys": key_list[:3]}), 409,
                      "shares for another advertised set")
        checks.status(computes["vpod-c01"].post("/v2/secagg/shares", {"job": JOB, "round": ROUND, "keys": key_list[:2]}), 409,
                      "shares with fewer than t holders")

        # A restart between the stages: the state is on disk.
        computes["vpod-c03"].stop()
        computes["vpod-c03"].start()
        checks.check(computes["vpod-c03"].post("/v2/secagg/shares", shares_request) == (200, envelopes["vpod-c03"]),
                     "after a restart, the shares request gets the same envelopes")

        # 3. train: each gets the envelopes addressed to it; the plaintext updates come from /v2/train on the same requests.
        global_model = {"classes": CLASSES, "features": FEATURES,
                        "weights": [((k * FEATURES + j) % 5 - 2) * 0.05 for k in range(CLASSES) for j in range(FEATURES)],
                        "bias": [0.1, -0.05, 0.0]}
        max_samples = max(COMPUTE_ROWS.values())
        masked, plain = {}, {}
        for vpod, w in computes.items():
            train_request = {"job": JOB, "round": ROUND, "chainId": CHAIN_ID, "assignedSamples": COMPUTE_ROWS[vpod],
                             "model": global_model,
                             "hyperParameters": dict(HYPER, seed=wl.derive_seed(JOB_SEED, "train", ROUND, vpod))}
            status, answer = w.post("/v2/train", train_request)
            checks.check(status == 200, f"{vpod} /v2/train (the plaintext update)", answer)
            plain[vpod] = answer["update"]["weights"] + answer["update"]["bias"]
            inbox = [{"from": sender, "ciphertext": e["ciphertext"]} for sender, answer_ in envelopes.items()
                     for e in answer_["shares"] if e["to"] == vpod]
            secure_request = dict(train_request, maxSamples=max_samples, shares=inbox)
            status, answer = w.post("/v2/secagg/train", secure_request)
            checks.check(status == 200 and len(answer["maskedWith"]) == 3, f"{vpod} /v2/secagg/train", answer)
            masked[vpod] = answer
            if vpod == "vpod-c00":
                checks.check(w.post("/v2/secagg/train", secure_request) == (200, answer), "a repeated train request gets the same answer")
                checks.status(w.post("/v2/secagg/train", dict(secure_request, shares=inbox[:1])), 409,
                              "train with fewer than t shares")
                checks.status(w.post("/v2/secagg/train", dict(secure_request, shares=inbox[1:])), 409, "train with other senders")
                checks.status(w.post("/v2/secagg/train", dict(secure_request, maxSamples=None)), 400, "train without maxSamples")
                tampered = [dict(e, ciphertext=e["ciphertext"][:-2] + ("00" if e["ciphertext"][-2:] != "00" else "01")) for e in inbox]
                checks.status(w.post("/v2/secagg/train", dict(secure_request, shares=tampered)), 409,
                              "train whose envelopes do not open")
            receipt = answer["receipt"]
            encoding_hash = wl.to_hex(wl.keccak256(wl.masked_update_encoding(answer["masked"], answer["maxSamples"], answer["maskedWith"])))
            checks.check(receipt["updateHash"] == encoding_hash and receipt["sampleCount"] == COMPUTE_ROWS[vpod],
                         f"{vpod}'s receipt hashes its masked update encoding")

        # The dropped vPod sent its masked update, which the job never received; it is gone.
        computes[DROPPED].stop()
        survivors = sorted(v for v in computes if v != DROPPED)

        # 4. survivors
        survivor_signatures = []
        for vpod in survivors:
            status, answer = computes[vpod].post("/v2/secagg/survivors", {"job": JOB, "round": ROUND, "survivors": survivors})
            checks.check(status == 200, f"{vpod} /v2/secagg/survivors", answer)
            survivor_signatures.append(answer)
        checks.status(computes["vpod-c00"].post("/v2/secagg/survivors", {"job": JOB, "round": ROUND, "survivors": list(COMPUTE_ROWS)}),
                      409, "a second survivor set")
        checks.status(computes["vpod-c00"].post("/v2/secagg/survivors", {"job": JOB, "round": ROUND, "survivors": ["vpod-c00", "vpod-c00"]}),
                      400, "a survivor listed twice")

        # 5. reveal
        reveal_request = {"job": JOB, "round": ROUND, "survivors": survivors, "signatures": survivor_signatures}
        checks.status(computes["vpod-c00"].post("/v2/secagg/reveal", dict(reveal_request, signatures=survivor_signatures[:2])), 409,
                      "reveal with fewer than t survivor signatures")
        checks.status(computes["vpod-c00"].post("/v2/secagg/reveal", dict(reveal_request, survivors=list(COMPUTE_ROWS))), 409,
                      "reveal for a set this vPod did not sign")
        reveals = []
        for vpod in survivors:
            status, answer = computes[vpod].post("/v2/secagg/reveal", reveal_request)
            kinds = {s["peer"]: s["kind"] for s in answer.get("shares", [])}
            checks.check(status == 200 and kinds == {**{v: "self-mask" for v in survivors}, DROPPED: "mask-key"},
                         f"{vpod} /v2/secagg/reveal: self-mask shares of survivors, the mask-key share of {DROPPED}", answer)
            reveals.append(answer)
        computes["vpod-c01"].stop()
        computes["vpod-c01"].start()
        checks.check(computes["vpod-c01"].post("/v2/secagg/reveal", reveal_request) == (200, reveals[1]),
                     "after a restart, a repeated reveal gets the same answer")

        # The validator.
        aggregate_request = {"job": JOB, "round": ROUND, "chainId": CHAIN_ID, "registry": REGISTRY, "global": global_model,
                             "participants": [{"vpodId": v, "address": computes[v].key.address, "assignedSamples": n}
                                              for v, n in COMPUTE_ROWS.items()],
                             "seed": JOB_SEED, "threshold": THRESHOLD, "keys": [forged] + key_list, "survivors": survivors,
                             "survivorSignatures": survivor_signatures,
                             "updates": [{k: masked[v][k] for k in ("receipt", "masked", "maskedWith", "maxSamples")} for v in survivors],
                             "reveals": reveals}
        # A survivor that reveals a survivor's mask-key share is excluded: with two honest revealers left, t = 3 is not reached.
        bad_shares = [(s["peer"], "mask-key" if s["peer"] == "vpod-c01" else s["kind"], s["share"]) for s in reveals[0]["shares"]]
        bad_reveal = {"vpodId": "vpod-c00", "shares": [{"peer": p, "kind": k, "share": s} for p, k, s in bad_shares],
                      "signature": computes["vpod-c00"].key.sign_hex(wl.secagg_reveal_digest(CHAIN_ID, JOB, ROUND, "vpod-c00", bad_shares))}
        status, answer = validator.post("/v2/secagg/aggregate", dict(aggregate_request, reveals=[bad_reveal] + reveals[1:]))
        checks.check(status == 409 and "t = 3" in answer.get("error", ""), "a revealer showing a survivor's mask key is excluded (409 naming t)",
                     (status, answer))
        status, answer = validator.post("/v2/secagg/aggregate", dict(aggregate_request, survivorSignatures=survivor_signatures[:2]))
        checks.check(status == 409 and "t = 3" in answer.get("error", ""), "aggregate with fewer than t survivor signatures", (status, answer))
        checks.status(validator.post("/v2/secagg/aggregate", dict(aggregate_request, threshold=9)), 400, "aggregate with a threshold above d")

        status, result = validator.post("/v2/secagg/aggregate", aggregate_request)
        if not checks.check(status == 200, f"{VALIDATOR} /v2/secagg/aggregate", result):
            return
        # A forged copy of a reveal (signed by another key) that arrives before the real one never hides it.
        forged_reveal = dict(reveals[0], signature=computes["vpod-c01"].key.sign_hex(
            wl.secagg_reveal_digest(CHAIN_ID, JOB, ROUND, "vpod-c00", [(s["peer"], s["kind"], s["share"]) for s in reveals[0]["shares"]])))
        checks.check(validator.post("/v2/secagg/aggregate", dict(aggregate_request, reveals=[forged_reveal] + reveals)) == (200, result),
                     "a forged reveal that arrives before the real one changes nothing")
        if transcript_path:
            with open(transcript_path, "w") as f:
                json.dump({"request": aggregate_request, "answer": result, "plain": plain}, f)
        checks.check(validator.post("/v2/secagg/aggregate", aggregate_request) == (200, result), "a repeated aggregate gets the same answer")
        checks.check(result["participants"] == survivors and result["totalSamples"] == sum(COMPUTE_ROWS[v] for v in survivors),
                     "the result names the survivors and their samples", result)

        # The unmasked model against the plaintext FedAvg of the survivors' updates.
        model = result["model"]["weights"] + result["model"]["bias"]
        total, expected = 0, [0.0] * len(model)
        for vpod in survivors:
            total += COMPUTE_ROWS[vpod]
            for k in range(len(model)):
                expected[k] += COMPUTE_ROWS[vpod] * plain[vpod][k]
        expected = [e / total for e in expected]
        weight_sum = 0.0
        for vpod in survivors:
            weight_sum += COMPUTE_ROWS[vpod] / max_samples
        tolerance = len(survivors) * (2 * wl.SECAGG_CLIP / (wl.SECAGG_LEVELS - 1)) / weight_sum
        worst = max(abs(a - b) for a, b in zip(model, expected))
        checks.check(worst <= tolerance, f"the unmasked model is the plaintext FedAvg within {tolerance:.3g} (worst {worst:.3g})")
        checks.check(worst > 0 or all(m == e for m, e in zip(model, expected)), "the comparison saw the model")

        encoded = wl.encode_model(CLASSES, FEATURES, model)
        leaves = [wl.receipt_hash(JOB, ROUND, v, COMPUTE_ROWS[v], masked[v]["receipt"]["updateHash"]) for v in survivors]
        digest = wl.finalize_digest(CHAIN_ID, REGISTRY, JOB, ROUND, wl.keccak256(encoded), wl.merkle_root(leaves),
                                    __import__("hashlib").sha256(encoded).digest(), wl.unixfs_file_cid(encoded))
        checks.check(result["resultHash"] == wl.to_hex(wl.keccak256(encoded)) and result["receiptsRoot"] == wl.to_hex(wl.merkle_root(leaves)),
                     "resultHash and receiptsRoot are those of the model and the survivors' receipts")
        checks.check(wl.recover_address(digest, wl.parse_signature(result["signature"])) == validator.key.address == result["signer"],
                     "the validator signed FinalizeRound of its own result")
        checks.check(result.get("evaluation", {}).get("sampleCount") == 12, "the validator evaluated on its test split", result.get("evaluation"))
    finally:
        for w in everyone:
            w.stop()


def main():
    if sys.argv[1:] == ["--vectors"]:
        print(json.dumps(vectors(), indent=1))
        return 0
    transcript_path = None
    if len(sys.argv) == 3 and sys.argv[1] == "--transcript":
        transcript_path = sys.argv[2]
    elif sys.argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    root = tempfile.mkdtemp(prefix="metanode-secagg-")
    checks = Checks()
    try:
        run_round(root, checks, transcript_path)
    except Exception as e:  # noqa: BLE001 - a crash is a failed check
        import traceback
        traceback.print_exc()
        checks.check(False, "the self-check ran to the end", e)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'FAILED' if checks.failures else 'passed'}: {checks.failures} failed check(s)", flush=True)
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
