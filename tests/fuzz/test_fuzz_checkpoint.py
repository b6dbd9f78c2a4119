"""Fuzz checkpoints: the JSON manifest beside the weights, and the safetensors header (its length field and its
JSON), read as every command loads weights (``load_checkpoint``). Half of the header mutants come with a manifest
whose sha256 matches them, as a deliberately crafted file would, so that they reach the safetensors parser."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from gan_studio.models.checkpoint import (
    CheckpointError,
    file_sha256,
    load_checkpoint,
    manifest_path,
    read_manifest,
)
from tests.fuzz.harness import Fuzz, case_rng, replaced
from tests.fuzz.mutate import json_text_oddity, mutate_bytes, mutate_json, mutate_json_doc
from tests.fuzz.seeds import checkpoint_file

CASES = 150  # per file, in a default run
ARCH = "fuzz-net"


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return checkpoint_file(tmp_path_factory.mktemp("fuzzckpt"))


def _load(path: Path) -> None:
    read_manifest(path)
    load_checkpoint(path, architecture=ARCH)


def test_manifest(weights, fuzz_scale) -> None:
    mpath = manifest_path(weights)
    doc = json.loads(mpath.read_text())
    fuzz = Fuzz("checkpoint manifest", (CheckpointError,))
    n = CASES * fuzz_scale
    for i in range(n):
        data, what = mutate_json(doc, case_rng(fuzz.target, i))
        with replaced(mpath, data):
            fuzz.feed(f"{fuzz.target} #{i}", what, lambda: _load(weights), (weights.name, mpath.name))
    fuzz.check(n)


def _header_mutant(original: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    (length,) = struct.unpack("<Q", original[:8])
    header, body = original[8 : 8 + length], original[8 + length :]
    op = int(rng.integers(5))
    if op == 0:
        doc, what = mutate_json_doc(json.loads(header), rng)
        new = json.dumps(doc).encode()
        return struct.pack("<Q", len(new)) + new + body, f"header JSON: {what}"
    if op == 1:
        new, what = mutate_bytes(header, rng)
        keep = rng.random() < 0.5
        return struct.pack("<Q", length if keep else len(new)) + new + body, f"header bytes: {what}"
    if op == 2:
        odd = [0, 1, 2, length - 1, length + 1, len(original) - 8, len(original), 2**63, 2**64 - 1, 100 << 20]
        value = int(odd[int(rng.integers(len(odd)))])
        return struct.pack("<Q", value) + original[8:], f"header length {value}"
    if op == 3:
        new, what = json_text_oddity(rng, header.decode())
        return struct.pack("<Q", len(new)) + new + body, f"header text: {what}"
    new, what = mutate_bytes(original, rng)
    return new, f"file bytes: {what}"


def test_safetensors_header(weights, fuzz_scale) -> None:
    mpath = manifest_path(weights)
    original, manifest = weights.read_bytes(), json.loads(mpath.read_text())
    fuzz = Fuzz("safetensors header", (CheckpointError,))
    n = CASES * fuzz_scale
    for i in range(n):
        rng = case_rng(fuzz.target, i)
        data, what = _header_mutant(original, rng)
        with replaced(weights, data), replaced(mpath, mpath.read_bytes()):
            if rng.random() < 0.5:
                mpath.write_text(json.dumps({**manifest, "sha256": file_sha256(weights)}))
                what += ", manifest sha256 matched"
            fuzz.feed(f"{fuzz.target} #{i}", what, lambda: _load(weights), (weights.name, mpath.name))
    fuzz.check(n)
