"""A real S3 endpoint on loopback (moto's server), started once per test session; a fresh bucket per test.

Tests that stop or break the endpoint put the proxy of tests/s3_proxy.py in front of it, or start their own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import free_port, start_moto  # noqa: F401 - shared with the tests that start their own endpoint

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "s3cr3t-testing-key",
               "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class Bucket:
    endpoint: str
    name: str
    client: object

    def url(self, prefix: str = "models") -> str:
        return f"s3://{self.name}/{prefix}" if prefix else f"s3://{self.name}"

    def keys(self, prefix: str = "") -> dict[str, bytes]:
        out = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = self.client.get_object(Bucket=self.name, Key=obj["Key"])["Body"].read()
        return out

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)


def s3_env(endpoint: str) -> dict[str, str]:
    return {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}


@pytest.fixture
def bucket(moto_endpoint, monkeypatch, tmp_path) -> Bucket:
    import boto3

    for key, value in s3_env(moto_endpoint).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TRITONCTL_STATE_DIR", str(tmp_path / "state"))
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    name = f"t-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return Bucket(moto_endpoint, name, client)


def run(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tritonctl", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def python_model(weights_sha: str | None = None) -> str:
    """A python model that refuses to load unless its weights.bin holds exactly what the test wrote."""
    check = "" if weights_sha is None else f'''
        import hashlib, os
        path = os.path.join(os.path.dirname(__file__), "weights.bin")
        if not os.path.exists(path) or hashlib.sha256(open(path, "rb").read()).hexdigest() != "{weights_sha}":
            raise pb_utils.TritonModelException("incomplete weights")
'''
    return f'''import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.version = float(args["model_version"]){check}

    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("OUT", np.full((1, 1), self.version, np.float32))])
                for _ in requests]
'''


CONFIG = ('backend: "python"\nmax_batch_size: 0\ninput [ {{ name: "IN" data_type: TYPE_FP32 dims: [ 1 ] }} ]\n'
          'output [ {{ name: "OUT" data_type: TYPE_FP32 dims: [ 1, 1 ] }} ]\nversion_policy: {policy}\n')


def model_tree(root: Path, name: str, versions: dict[int, dict[str, bytes | str]], policy: str = "{ all: { } }"):
    from conftest import write_tree

    tree = {f"{name}/config.pbtxt": CONFIG.format(policy=policy)}
    for number, files in versions.items():
        for file_name, content in files.items():
            tree[f"{name}/{number}/{file_name}"] = content
    return write_tree(root, tree)
