# Bindings (bindings/python, bindings/node): generated code and nothing else.
# The Python binding's protobuf module is generated from messages/memd.proto by
# protoc at build time into BUILD/python/memd/memd_pb2.py (never committed);
# the package in bindings/python/memd spans both directories. The Node binding
# loads the .proto at run time and needs no build step (its npm install is a
# Makefile step). Their tests are registered in tests/tests.cmake.
find_program (PROTOC protoc REQUIRED)
set (MEMD_PYTHON /usr/bin/python3 CACHE FILEPATH
     "Python with Debian's python3-zmq, python3-protobuf and python3-pytest (not a pyenv one)")
find_program (MEMD_NODE node)

set (PY_GEN_DIR ${CMAKE_CURRENT_BINARY_DIR}/python/memd)
file (MAKE_DIRECTORY ${PY_GEN_DIR})
add_custom_command (
    OUTPUT ${PY_GEN_DIR}/memd_pb2.py
    COMMAND ${PROTOC} --python_out=${PY_GEN_DIR} -I${CMAKE_CURRENT_SOURCE_DIR}/messages
            ${CMAKE_CURRENT_SOURCE_DIR}/messages/memd.proto
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/messages/memd.proto
    COMMENT "protoc --python_out messages/memd.proto")
add_custom_target (python_binding ALL DEPENDS ${PY_GEN_DIR}/memd_pb2.py)
