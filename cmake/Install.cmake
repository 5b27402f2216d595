# The installed package (relocatable: nothing in it depends on the prefix it was installed to):
#   lib/libshapejit.so                          every layer in one shared library
#   libexec/shapejit/shapejit-compile-worker    found by the library relative to itself
#   bin/shapejit, bin/shapejit-compile-worker   the CLI and its worker
#   include/shapejit/...                        the public headers (shapejit/shapejit.hpp: all)
#   lib/cmake/shapejit                          find_package(shapejit): shapejit::shapejit,
#                                               shapejit::compile_worker
include(CMakePackageConfigHelpers)
if(SHAPEJIT_STATIC_DEPS)
  message(FATAL_ERROR "SHAPEJIT_INSTALL needs SHAPEJIT_STATIC_DEPS=OFF: libshapejit.so links the shared "
                      "SQLite (the static archive is not position-independent)")
endif()

# The shared library is made of the layers' objects (compiled once, position-independent) and
# links their dependencies (NVRTC, SQLite, threads, libdl); the layers' archives add nothing.
set(shapejit_layers shapejit_runtime shapejit_jit shapejit_cache shapejit_templates shapejit_planner shapejit_comm)
set(shapejit_layer_objects "")
foreach(layer IN LISTS shapejit_layers)
  get_target_property(layer_type ${layer} TYPE)
  if(NOT layer_type STREQUAL "INTERFACE_LIBRARY")
    list(APPEND shapejit_layer_objects $<TARGET_OBJECTS:${layer}>)
  endif()
endforeach()
add_library(shapejit_shared SHARED ${shapejit_layer_objects})
set_target_properties(shapejit_shared PROPERTIES OUTPUT_NAME shapejit EXPORT_NAME shapejit
                      VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
                      INSTALL_RPATH_USE_LINK_PATH ON)
target_link_libraries(shapejit_shared PRIVATE ${shapejit_layers})
# What its users need: the headers, C++20, and cuda.h (the public headers use the Driver API types).
target_include_directories(shapejit_shared INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(shapejit_shared INTERFACE cxx_std_20)
target_link_libraries(shapejit_shared INTERFACE CUDA::toolkit)
add_dependencies(shapejit_shared shapejit_compile_worker)
set_target_properties(shapejit_compile_worker PROPERTIES EXPORT_NAME compile_worker INSTALL_RPATH_USE_LINK_PATH ON)

install(TARGETS shapejit_shared EXPORT shapejitTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS shapejit_compile_worker EXPORT shapejitTargets RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/shapejit)
install(TARGETS shapejit_compile_worker RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET shapejit_cli)
  install(TARGETS shapejit_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# Public headers: every header under the layers' include/ folders except the internals below.
set(shapejit_internal_headers
  jit/worker_pool.hpp jit/embedded_templates.hpp jit/compiler.hpp
  runtime/driver_api.hpp runtime/tensor_map.hpp runtime/checks.hpp runtime/op_registry.hpp
  runtime/op_shape.hpp runtime/work_loop.hpp
  planner/cost_profile_writer.hpp comm/nccl_api.hpp)
set(header_excludes "")
foreach(header IN LISTS shapejit_internal_headers)
  string(REPLACE "." "\\." header_regex "/shapejit/${header}$")
  list(APPEND header_excludes REGEX ${header_regex} EXCLUDE)
endforeach()
# The include/ folders of the umbrella header and of every layer and its sub-folders (families,
# tuning, ...), found rather than listed so a new sub-folder's headers are installed too.
set(include_roots ${PROJECT_SOURCE_DIR}/include)
foreach(layer jit cache runtime planner comm)
  file(GLOB layer_roots LIST_DIRECTORIES true ${PROJECT_SOURCE_DIR}/${layer}/include
       ${PROJECT_SOURCE_DIR}/${layer}/*/include)
  list(APPEND include_roots ${layer_roots})
endforeach()
foreach(root IN LISTS include_roots)
  if(IS_DIRECTORY ${root}/shapejit)
    install(DIRECTORY ${root}/shapejit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} ${header_excludes})
  endif()
endforeach()

install(EXPORT shapejitTargets NAMESPACE shapejit:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shapejit)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/shapejitConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/shapejitConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shapejit)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/shapejitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/shapejitConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/shapejitConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shapejit)
