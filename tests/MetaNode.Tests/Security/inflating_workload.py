#!/usr/bin/python3
"""A hostile compute workload, for tests only: the Python reference workload, except that it ignores the count the job
assigned and signs receipts claiming 10**12 samples. The signatures are valid: only the job's record of the rows it placed
gives the lie away."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "python-workload"))
import workload  # noqa: E402

INFLATED = 10 ** 12
_honest_train = workload.Workload.train


def inflated_train(self, body):
    body = dict(body)
    body.pop("assignedSamples", None)
    answer = _honest_train(self, body)
    receipt = answer["receipt"]
    digest = workload.typed_digest(
        workload.vpod_domain(body["chainId"]),
        workload.receipt_hash(receipt["job"], receipt["round"], receipt["vpod"], INFLATED, receipt["updateHash"]))
    receipt["sampleCount"] = INFLATED
    receipt["signature"] = self.key.sign_hex(digest)
    answer["sampleCount"] = INFLATED
    return answer


workload.Workload.train = inflated_train

if __name__ == "__main__":
    sys.exit(workload.main())
