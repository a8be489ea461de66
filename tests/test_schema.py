"""protos/model_config.proto is Triton r24.10's schema, and the committed module is generated from it."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile

import pytest
from google.protobuf import descriptor_pb2

from conftest import ROOT

WHEEL_GLOB = "tritonclient-2.51.0-*.whl"
WHEEL_MEMBER = "tritonclient-2.51.0.data/purelib/tritonclient/grpc/model_config_pb2.py"
PACKAGE_MODULE = ROOT / "src" / "tritonctl" / "io" / "proto"


def serialized_descriptor(source: str) -> descriptor_pb2.FileDescriptorProto:
    m = re.search(r"AddSerializedFile\((b'.*?')\)\n", source, re.S)
    assert m, "no serialized descriptor in generated module"
    data = eval(m.group(1), {"__builtins__": {}})  # a bytes literal written by protoc
    return descriptor_pb2.FileDescriptorProto.FromString(data)


def triton_descriptor() -> descriptor_pb2.FileDescriptorProto:
    wheels = sorted((ROOT / ".cache" / "wheels").glob(WHEEL_GLOB))
    if not wheels:
        pytest.fail("the tritonclient 2.51.0 wheel is not in .cache/wheels; the set-up command downloads it: "
                    "pip download --no-deps tritonclient==2.51.0 -d .cache/wheels")
    with zipfile.ZipFile(wheels[0]) as z:
        return serialized_descriptor(z.read(WHEEL_MEMBER).decode())


def test_generated_module_is_up_to_date(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "protos" / "generate.py"), str(tmp_path)], check=True)
    for name in ("model_config_pb2.py", "model_config_pb2.pyi", "saved_model_signature_pb2.py",
                 "saved_model_signature_pb2.pyi"):
        assert (tmp_path / name).read_text() == (PACKAGE_MODULE / name).read_text(), (
            f"{name} differs from its .proto in protos/; run: python protos/generate.py")


def _fields(msg: descriptor_pb2.DescriptorProto, prefix: str = "") -> dict[str, tuple]:
    out = {}
    for f in msg.field:
        oneof = msg.oneof_decl[f.oneof_index].name if f.HasField("oneof_index") else None
        out[f"{prefix}{msg.name}.{f.name}"] = (f.number, f.type, f.label, f.type_name, oneof, f.json_name)
    for nested in msg.nested_type:
        out.update(_fields(nested, f"{prefix}{msg.name}."))
    for enum in msg.enum_type:
        out[f"{prefix}{msg.name}.{enum.name}"] = tuple((v.name, v.number) for v in enum.value)
    return out


def _schema(fd: descriptor_pb2.FileDescriptorProto) -> dict[str, tuple]:
    out = {f"enum {e.name}": tuple((v.name, v.number) for v in e.value) for e in fd.enum_type}
    for msg in fd.message_type:
        out.update(_fields(msg))
    return out


def test_schema_matches_triton_2_51_field_for_field():
    ours = serialized_descriptor((PACKAGE_MODULE / "model_config_pb2.py").read_text())
    theirs = triton_descriptor()
    assert ours.package == theirs.package == "inference"
    a, b = _schema(ours), _schema(theirs)
    assert sorted(set(b) - set(a)) == [], "missing from our proto"
    assert sorted(set(a) - set(b)) == [], "not in Triton 2.51"
    assert {k: a[k] for k in a if a[k] != b[k]} == {}
    assert ours == theirs  # and the whole descriptor, options and map entries included


def test_schema_is_2_51_not_newer():
    from tritonctl.io.proto import model_config_pb2 as mc

    assert "model_metrics" not in mc.ModelConfig.DESCRIPTOR.fields_by_name
    assert "max_inflight_requests" not in mc.ModelEnsembling.DESCRIPTOR.fields_by_name
    assert mc.DataType.Value("TYPE_BF16") == 14
