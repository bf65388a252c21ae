#!/usr/bin/env python3
"""MetaNode workload protocol in plain Python 3 (standard library only).

Serves GET /healthz, POST /v1/statistics, POST /v1/train and POST /v1/evaluate for the
vPod's partition in METANODE_DATA_DIR (format metanode-partition/1), as described in
examples/workload-protocol.md. Training follows the protocol's reference algorithm
operation for operation, so on IEEE-754 doubles with the same exp/log it returns the
same bits as the C# reference workload.

Environment: METANODE_HOST (default 127.0.0.1), METANODE_PORT (default 8080),
METANODE_VPOD_ID (default "unknown"), METANODE_DATA_DIR (default /vpod/data).
"""

import json
import math
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FORMAT = "metanode-partition/1"
MASK64 = (1 << 64) - 1
MAX_SEED = (1 << 53) - 1
MAX_EPOCHS = 1000
SPLITS = ("train", "test")


class BadRequest(Exception):
    """Answered with 400."""


class Unavailable(Exception):
    """The data directory cannot serve the split: answered with 409."""


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


class Partition:
    """Reads manifest.json and <split>.csv; keeps each split until its file changes."""

    def __init__(self, path):
        self.path = path
        self.cache = {}
        self.lock = threading.Lock()

    def load(self, split):
        manifest_path = os.path.join(self.path, "manifest.json")
        if not os.path.isfile(manifest_path):
            raise Unavailable(f"The data directory '{self.path}' has no manifest.json: no partition was placed in this vPod yet.")
        try:
            with open(manifest_path, "rb") as f:
                manifest = json.load(f)
        except ValueError as e:
            raise Unavailable(f"{manifest_path} is not valid JSON: {e}")
        if manifest.get("format") != FORMAT:
            raise Unavailable(f"{manifest_path} has format '{manifest.get('format')}'; this workload reads '{FORMAT}'.")
        features, classes = manifest.get("features", 0), manifest.get("classes", 0)
        splits = manifest.get("splits") or {}
        if split not in splits:
            raise Unavailable(f"The data directory '{self.path}' holds no '{split}' split (it has: {', '.join(sorted(splits))}).")
        name = splits[split].get("file", "")
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise Unavailable(f"manifest.json in '{self.path}': split '{split}' names file '{name}'; it must be a plain file name.")
        file = os.path.join(self.path, name)
        if not os.path.isfile(file):
            raise Unavailable(f"The '{split}' split file '{file}' does not exist.")
        stat = os.stat(file)
        key = (stat.st_mtime_ns, stat.st_size, features, classes)
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
                fields = line.split(",")
                if len(fields) != features + 1:
                    raise Unavailable(f"{file} line {number}: {len(fields)} columns; expected {features} features and a label.")
                try:
                    row = [float(v) for v in fields[:-1]]
                except ValueError:
                    raise Unavailable(f"{file} line {number}: a feature is not a number.")
                if not all(math.isfinite(v) for v in row):
                    raise Unavailable(f"{file} line {number}: a feature is not finite.")
                label_text = fields[-1].strip()
                if not label_text.isdigit() or int(label_text) >= classes:
                    raise Unavailable(f"{file} line {number}, column {features + 1}: label '{label_text}' is not an integer from 0 to {classes - 1}.")
                rows.append(row)
                labels.append(int(label_text))
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


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_model(model, data):
    """Returns (weights as class rows, bias)."""
    if not isinstance(model, dict):
        raise BadRequest("model is missing.")
    classes, features = model.get("classes"), model.get("features")
    if classes != data["classes"] or features != data["features"]:
        raise BadRequest(f"model is {classes} classes x {features} features; the local data has {data['classes']} classes and {data['features']} features.")
    weights, bias = model.get("weights"), model.get("bias")
    if not isinstance(weights, list) or len(weights) != classes * features:
        raise BadRequest(f"model.weights must hold classes x features = {classes * features} values.")
    if not isinstance(bias, list) or len(bias) != classes:
        raise BadRequest(f"model.bias must hold one value per class ({classes}).")
    if not all(is_number(v) for v in weights) or not all(is_number(v) for v in bias):
        raise BadRequest("model holds a value that is not a finite number.")
    rows = [[float(v) for v in weights[k * features:(k + 1) * features]] for k in range(classes)]
    return rows, [float(v) for v in bias]


def standardized(data, standardization):
    rows = data["rows"]
    if standardization is None:
        return [list(r) for r in rows]
    features = data["features"]
    mean, scale = standardization.get("mean"), standardization.get("scale")
    if not isinstance(mean, list) or not isinstance(scale, list) or len(mean) != features or len(scale) != features:
        raise BadRequest(f"standardization.mean and standardization.scale must each hold {features} values.")
    if not all(is_number(v) for v in mean) or not all(is_number(v) and v > 0 for v in scale):
        raise BadRequest("standardization must be finite with positive scales.")
    mean, scale = [float(v) for v in mean], [float(v) for v in scale]
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


def train(weights, bias, xs, labels, epochs, batch_size, learning_rate, seed):
    classes, features, n = len(bias), len(weights[0]), len(labels)
    order = list(range(n))
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


class Workload:
    def __init__(self, vpod_id, data_dir):
        self.vpod_id = vpod_id
        self.partition = Partition(data_dir)
        self.started = time.monotonic()

    def statistics(self, body):
        data = self.partition.load(split_name((body or {}).get("split"), "train"))
        features = data["features"]
        total, squares = [0.0] * features, [0.0] * features
        for row in data["rows"]:
            for j, v in enumerate(row):
                total[j] += v
                squares[j] += v * v
        return {"vpodId": self.vpod_id, "split": data["name"], "sampleCount": len(data["labels"]),
                "features": features, "sum": total, "sumOfSquares": squares}

    def train(self, body):
        if not isinstance(body, dict):
            raise BadRequest("The body must be a JSON object with model and hyperParameters.")
        round_ = body.get("round", 0)
        if not is_int(round_) or round_ < 0:
            raise BadRequest(f"round '{round_}' must be a non-negative integer.")
        hyper = body.get("hyperParameters")
        if not isinstance(hyper, dict):
            raise BadRequest("hyperParameters is missing.")
        epochs, batch, lr, seed = hyper.get("epochs"), hyper.get("batchSize"), hyper.get("learningRate"), hyper.get("seed")
        if not is_int(epochs) or not 1 <= epochs <= MAX_EPOCHS:
            raise BadRequest(f"hyperParameters.epochs '{epochs}' must be from 1 to {MAX_EPOCHS}.")
        if not is_int(batch) or batch < 1:
            raise BadRequest(f"hyperParameters.batchSize '{batch}' must be at least 1.")
        if not is_number(lr) or lr <= 0:
            raise BadRequest(f"hyperParameters.learningRate '{lr}' must be a positive number.")
        if not is_int(seed) or not 0 <= seed <= MAX_SEED:
            raise BadRequest(f"hyperParameters.seed '{seed}' must be from 0 to {MAX_SEED}.")
        data = self.partition.load("train")
        weights, bias = read_model(body.get("model"), data)
        xs = standardized(data, body.get("standardization"))
        started = time.perf_counter()
        steps = train(weights, bias, xs, data["labels"], epochs, batch, float(lr), seed)
        elapsed = (time.perf_counter() - started) * 1000
        loss, accuracy = evaluate(weights, bias, xs, data["labels"])
        return {"job": body.get("job") or "", "round": round_, "vpodId": self.vpod_id,
                "update": {"classes": data["classes"], "features": data["features"],
                           "weights": [w for row in weights for w in row], "bias": bias},
                "sampleCount": len(data["labels"]),
                "metrics": {"loss": loss, "accuracy": accuracy, "steps": steps, "elapsedMs": round(elapsed, 3)}}

    def evaluate(self, body):
        if not isinstance(body, dict):
            raise BadRequest("The body must be a JSON object with a model.")
        data = self.partition.load(split_name(body.get("split"), "test"))
        weights, bias = read_model(body.get("model"), data)
        xs = standardized(data, body.get("standardization"))
        loss, accuracy = evaluate(weights, bias, xs, data["labels"])
        return {"vpodId": self.vpod_id, "split": data["name"], "sampleCount": len(data["labels"]),
                "loss": loss, "accuracy": accuracy}


def make_handler(workload):
    routes = {"/v1/statistics": workload.statistics, "/v1/train": workload.train, "/v1/evaluate": workload.evaluate}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def send_json(self, status, value):
            payload = json.dumps(value, allow_nan=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            if self.path == "/healthz":
                self.send_json(200, {"status": "ok", "vpodId": workload.vpod_id,
                                     "uptimeSeconds": round(time.monotonic() - workload.started, 3)})
            else:
                self.send_json(404, {"error": f"no route GET {self.path}"})

        def read_body(self):
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def do_POST(self):
            raw = self.read_body()
            handle = routes.get(self.path)
            if handle is None:
                self.send_json(404, {"error": f"no route POST {self.path}"})
                return
            try:
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError as e:
                        raise BadRequest(f"The body is not valid JSON: {e}")
                elif self.path == "/v1/statistics":
                    body = None
                else:
                    raise BadRequest("The request has no body; send a JSON object.")
                self.send_json(200, handle(body))
            except BadRequest as e:
                self.send_json(400, {"error": str(e)})
            except Unavailable as e:
                self.send_json(409, {"error": str(e)})

        def log_message(self, fmt, *args):
            sys.stdout.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), fmt % args))
            sys.stdout.flush()

    return Handler


def main():
    host = os.environ.get("METANODE_HOST") or "127.0.0.1"
    port_text = os.environ.get("METANODE_PORT") or "8080"
    if not port_text.isdigit() or int(port_text) > 65535:
        print(f"error: METANODE_PORT='{port_text}' is not a port number (0 to 65535).", file=sys.stderr)
        return 2
    vpod_id = (os.environ.get("METANODE_VPOD_ID") or "").strip() or "unknown"
    data_dir = os.path.abspath(os.environ.get("METANODE_DATA_DIR") or "/vpod/data")
    server = ThreadingHTTPServer((host, int(port_text)), make_handler(Workload(vpod_id, data_dir)))
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"vPod {vpod_id} python workload listening on http://{host}:{server.server_address[1]}, data in {data_dir}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    print(f"vPod {vpod_id} python workload stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
