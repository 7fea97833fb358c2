"""The generated protobuf module (messages/memd.proto → memd_pb2), found next
to this package in the build directory, with a clear error when it is not."""
try:
    from . import memd_pb2 as pb  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "memd: the generated module memd_pb2 was not found. Build memd (`make build` runs "
        "protoc on messages/memd.proto into BUILD/python/memd/) and put BUILD/python on "
        "PYTHONPATH next to bindings/python. Original error: %s" % e
    ) from e
