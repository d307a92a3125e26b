# cmake -P script: install into WORK_DIR/prefix, configure + build + run the consumer project;
# then check that a missing http component is reported with its reason, and that a project
# vendoring kerec with add_subdirectory() installs none of kerec's files.
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${KEREC_BINARY_DIR} --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
foreach(f include/kerec/kerec.hpp include/kerec/version.hpp share/kerec/cmake/kerecConfig.cmake)
  if(NOT EXISTS ${WORK_DIR}/prefix/${f})
    message(FATAL_ERROR "${f} was not installed")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/build
                -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_CXX_COMPILER=${CXX}
                RESULT_VARIABLE rc OUTPUT_VARIABLE cfg_out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the consumer failed (${rc}): ${cfg_out}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the consumer failed (${rc})")
endif()
execute_process(COMMAND ${WORK_DIR}/build/consumer RESULT_VARIABLE rc OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0 OR NOT out MATCHES "consumer ok")
  message(FATAL_ERROR "consumer failed (${rc}): ${out}")
endif()
if(EXISTS ${WORK_DIR}/prefix/share/kerec/cmake/kerecHttpTargets.cmake AND NOT out MATCHES "http yes")
  message(FATAL_ERROR "kerec::http was installed but the consumer did not find it: ${cfg_out}")
endif()
message(STATUS "${out}")

# Without the http export set, REQUIRED COMPONENTS http fails and says why.
file(REMOVE ${WORK_DIR}/prefix/share/kerec/cmake/kerecHttpTargets.cmake)
file(GLOB _http_files ${WORK_DIR}/prefix/share/kerec/cmake/kerecHttpTargets-*.cmake)
if(_http_files)
  file(REMOVE ${_http_files})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/build_nohttp
                -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_CXX_COMPILER=${CXX} -DCONSUMER_REQUIRE_HTTP=ON
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "find_package(kerec COMPONENTS http) succeeded without the http component")
endif()
string(REGEX REPLACE "[ \t\r\n]+" " " _said "${out}${err}")  # CMake wraps the reason over lines
if(NOT _said MATCHES "installed without the HTTP judge")
  message(FATAL_ERROR "a missing http component was not explained: ${out}${err}")
endif()

# Vendored with add_subdirectory(): nothing of kerec is installed.
file(MAKE_DIRECTORY ${WORK_DIR}/vendor)
file(WRITE ${WORK_DIR}/vendor/CMakeLists.txt
  "cmake_minimum_required(VERSION 3.20)\nproject(vendor LANGUAGES CXX)\n"
  "add_subdirectory(\"${KEREC_SOURCE_DIR}\" kerec)\n"
  "if(NOT TARGET kerec::kerec)\n  message(FATAL_ERROR \"no kerec::kerec\")\nendif()\n")
execute_process(COMMAND ${CMAKE_COMMAND} -S ${WORK_DIR}/vendor -B ${WORK_DIR}/vendor/build -DCMAKE_CXX_COMPILER=${CXX}
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring a project that vendors kerec failed: ${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --install ${WORK_DIR}/vendor/build --prefix ${WORK_DIR}/vendor/prefix
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
if(EXISTS ${WORK_DIR}/vendor/prefix/include/kerec)
  message(FATAL_ERROR "a project vendoring kerec installed kerec's headers")
endif()
