# Third-party dependencies, all from Debian packages (scripts/setup.sh installs them).
if(NOT DEFINED CUDAToolkit_ROOT AND EXISTS /usr/local/cuda)
  set(CUDAToolkit_ROOT /usr/local/cuda)
endif()
find_package(CUDAToolkit REQUIRED)        # headers, NVRTC, cuBLASLt; libcuda is dlopen'ed
find_package(nlohmann_json 3.10 REQUIRED)
if(SHAPEJIT_BUILD_CLI OR SHAPEJIT_BUILD_TESTS)
  find_package(CLI11 REQUIRED)            # the CLI only
endif()
find_package(Threads REQUIRED)

find_path(XXHASH_INCLUDE_DIR xxhash.h REQUIRED)
add_library(shapejit_xxhash INTERFACE)
target_include_directories(shapejit_xxhash SYSTEM INTERFACE ${XXHASH_INCLUDE_DIR})
target_compile_definitions(shapejit_xxhash INTERFACE XXH_INLINE_ALL)   # header-only, nothing to link

if(SHAPEJIT_STATIC_DEPS)
  find_library(SQLITE3_STATIC libsqlite3.a REQUIRED)
  add_library(shapejit_sqlite INTERFACE)
  target_link_libraries(shapejit_sqlite INTERFACE ${SQLITE3_STATIC} ${CMAKE_DL_LIBS} Threads::Threads m)
else()
  find_package(SQLite3 REQUIRED)
  add_library(shapejit_sqlite INTERFACE)
  target_link_libraries(shapejit_sqlite INTERFACE SQLite::SQLite3)
endif()

# The LLVM tools that run the PTX FileCheck tests.
if(SHAPEJIT_BUILD_TESTS)
  find_program(SHAPEJIT_FILECHECK NAMES FileCheck FileCheck-14 HINTS /usr/lib/llvm-14/bin)
  find_file(SHAPEJIT_LIT lit.py HINTS /usr/lib/llvm-14/build/utils/lit)
endif()
