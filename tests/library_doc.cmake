# library_doc — docs/library.md's program builds and runs against an
# installed tree (cmake -P; ctest passes the variables below).
#
#   BUILD_DIR  the build tree to install      SOURCE_DIR  the sources (docs/library.md)
#   WORK_DIR   scratch folder (emptied)       CC          the C compiler
#   EXTRA_FLAGS  ;-list of flags for the compile (the sanitizer build's)
#
# Steps: `cmake --install BUILD_DIR --prefix WORK_DIR/prefix`; the one ```c
# block of docs/library.md written to example.c; `cc example.c $(pkg-config
# --cflags --libs marginsim)` with PKG_CONFIG_PATH at the installed .pc (lib/
# or lib/<triplet>/, whichever GNUInstallDirs chose); the program run with
# LD_LIBRARY_PATH at the installed shared library, its exit code and output
# checked. It must also fail to start without LD_LIBRARY_PATH: proof that it
# linked the installed shared library, not a static copy.
cmake_minimum_required(VERSION 3.18)
foreach(v BUILD_DIR SOURCE_DIR WORK_DIR CC)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "library_doc: -D${v}=... missing")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "library_doc: ${what} failed (${rc}):\n${ARGN}\n${out}\n${err}")
  endif()
  set(OUT "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# The program: the doc's only ```c block, verbatim.
file(READ ${SOURCE_DIR}/docs/library.md doc)
string(REGEX MATCHALL "\n```c\n" fences "${doc}")
list(LENGTH fences nfences)
if(NOT nfences EQUAL 1)
  message(FATAL_ERROR "library_doc: docs/library.md must have exactly one ```c block, has ${nfences}")
endif()
string(REGEX REPLACE ".*\n```c\n" "" prog "${doc}")
string(FIND "${prog}" "\n```" end)
string(SUBSTRING "${prog}" 0 ${end} prog)
file(WRITE ${WORK_DIR}/example.c "${prog}\n")

file(GLOB_RECURSE pcs ${prefix}/*/marginsim.pc)
list(LENGTH pcs npc)
if(NOT npc EQUAL 1)
  message(FATAL_ERROR "library_doc: expected one installed marginsim.pc, found: ${pcs}")
endif()
get_filename_component(pcdir ${pcs} DIRECTORY)
get_filename_component(libdir ${pcdir} DIRECTORY)
foreach(f ${libdir}/libmarginsim.a ${libdir}/libmarginsim.so ${prefix}/include/marginsim/marginsim.h
    ${prefix}/bin/marginsim)
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "library_doc: ${f} not installed")
  endif()
endforeach()
# The boundary: the two public headers and nothing of sim/.
file(GLOB_RECURSE headers RELATIVE ${prefix} ${prefix}/*.h)
list(SORT headers)
if(NOT headers STREQUAL "include/marginsim/error.h;include/marginsim/marginsim.h")
  message(FATAL_ERROR "library_doc: installed headers should be marginsim.h and error.h only, are: ${headers}")
endif()

# The shared library exports the calls of the installed headers and nothing
# else (CMakeLists.txt's version script): no internal is reachable.
if(DEFINED NM AND NM)
  run("nm" ${NM} -D --defined-only ${libdir}/libmarginsim.so)
  string(REGEX MATCHALL "[^\n]* [A-Za-z] ([A-Za-z_][A-Za-z0-9_]*)" syms "${OUT}")
  file(READ ${prefix}/include/marginsim/marginsim.h api)
  file(READ ${prefix}/include/marginsim/error.h api2)
  string(APPEND api "${api2}")
  set(nexp 0)
  foreach(line ${syms})
    string(REGEX REPLACE ".* " "" sym "${line}")
    if(sym MATCHES "^ms_")
      math(EXPR nexp "${nexp} + 1")
      string(FIND "${api}" "${sym}(" at)
      if(at EQUAL -1)
        message(FATAL_ERROR "library_doc: libmarginsim.so exports ${sym}, which the public headers do not declare")
      endif()
    endif()
  endforeach()
  if(NOT OUT MATCHES "ms_simulate")
    message(FATAL_ERROR "library_doc: libmarginsim.so does not export ms_simulate:\n${OUT}")
  endif()
endif()

set(ENV{PKG_CONFIG_PATH} ${pcdir})
run("pkg-config" pkg-config --cflags --libs marginsim)
string(STRIP "${OUT}" pcflags)
separate_arguments(pcflags UNIX_COMMAND "${pcflags}")
set(incdirs "")
foreach(f ${pcflags})
  if(f MATCHES "^-I(.*)")
    get_filename_component(d "${CMAKE_MATCH_1}" REALPATH)
    list(APPEND incdirs "${d}")
  endif()
endforeach()
get_filename_component(want_inc ${prefix}/include REALPATH)
if(NOT want_inc IN_LIST incdirs)
  message(FATAL_ERROR "library_doc: pkg-config --cflags does not point at ${want_inc}: ${pcflags}")
endif()
run("compiling docs/library.md's program" ${CC} -std=c11 -Wall -Wextra -Werror ${EXTRA_FLAGS}
  ${WORK_DIR}/example.c ${pcflags} -o ${WORK_DIR}/example)

# Without the library's folder on the loader's path it cannot start.
execute_process(COMMAND ${WORK_DIR}/example ${WORK_DIR}/nolib.h5 RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
if(rc EQUAL 0)
  message(FATAL_ERROR "library_doc: the program ran without LD_LIBRARY_PATH: not linked to the shared library?")
endif()

set(ENV{LD_LIBRARY_PATH} ${libdir})
set(h5 ${WORK_DIR}/example.h5)
run("running docs/library.md's program" ${WORK_DIR}/example ${h5})
message(STATUS "program output:\n${OUT}")
# The overrides applied (200 paths, not the text's 1000; records kept),
# progress reached the end, the in-memory and the file's runs agree.
foreach(want
    "paths: 200, progress 200/200\n"
    "liquidations.mean: [0-9]+\\.[0-9]+ \\[[0-9]+\\.[0-9]+, [0-9]+\\.[0-9]+\\]\n"
    "bad_debt.mean: [0-9]+\\.[0-9]+ USD \\[-?[0-9]+\\.[0-9]+, [0-9]+\\.[0-9]+\\]\n"
    "liquidation_any.probability: [01]\\.[0-9]+ \\[[01]\\.[0-9]+, [01]\\.[0-9]+\\]\n"
    "worst path: [0-9]+, bad debt [0-9]+\\.[0-9]+ USD\n"
    "liquidations: [1-9][0-9]* records, largest fill [0-9]+\\.[0-9]+ USD\n"
    "with a file: [^\n]*example.h5, bad_debt.mean the same\n"
    "bad override: bad input, exit code 2: --set margin.model=bogus: margin.model: must be one of: static, tiered, dynamic, portfolio \\(got bogus\\)\n"
    "cancelled run: interrupted, result NULL, file not written\n")
  if(NOT OUT MATCHES "${want}")
    message(FATAL_ERROR "library_doc: output lacks /${want}/:\n${OUT}")
  endif()
endforeach()
# Liquidations happen in this scenario (20x leverage, 120% vol, jumps):
# a run that did nothing would show 0 and fail here.
if(NOT OUT MATCHES "liquidation_any.probability: 0\\.[0-9]*[1-9]")
  message(FATAL_ERROR "library_doc: no path had a liquidation; the run did not simulate:\n${OUT}")
endif()
# The numbers docs/library.md shows are the ones the program prints (same
# for any thread count): the doc's indented output block, line by line,
# but for the file name.
string(FIND "${doc}" "It prints" from)
string(SUBSTRING "${doc}" ${from} -1 printed)
string(FIND "${printed}" "\n\n`example.h5`" to)
string(SUBSTRING "${printed}" 0 ${to} printed)
string(REGEX MATCHALL "\n    [^\n]+" shown "${printed}")
foreach(line ${shown})
  string(REGEX REPLACE "^\n    " "" line "${line}")
  if(line MATCHES "^with a file:")
    continue()
  endif()
  string(FIND "${OUT}" "${line}\n" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "library_doc: docs/library.md shows a line the program does not print:\n  ${line}\nit printed:\n${OUT}")
  endif()
endforeach()
list(LENGTH shown nshown)
if(NOT nshown EQUAL 9)
  message(FATAL_ERROR "library_doc: docs/library.md's printed output (after \"It prints\") should have 9 lines, has ${nshown}")
endif()
# The result file is an HDF5 file (its 8-byte signature).
file(READ ${h5} sig LIMIT 8 HEX)
if(NOT sig STREQUAL "894844460d0a1a0a")
  message(FATAL_ERROR "library_doc: ${h5} is not an HDF5 file (starts ${sig})")
endif()
if(EXISTS ${h5}.cancelled.h5)
  message(FATAL_ERROR "library_doc: the cancelled run left ${h5}.cancelled.h5")
endif()
