# Installed layout: bin/shapejit and bin/shapejit-compile-worker (beside the CLI),
# libexec/shapejit/shapejit-compile-worker (for applications linking the library), lib/libshapejit_*.a, include/shapejit/..., lib/cmake/shapejit.
include(CMakePackageConfigHelpers)

install(TARGETS shapejit_cli shapejit_compile_worker RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS shapejit_compile_worker RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/shapejit)
install(TARGETS shapejit shapejit_runtime shapejit_comm shapejit_planner shapejit_jit shapejit_error
                shapejit_cache shapejit_templates shapejit_xxhash shapejit_sqlite
        EXPORT shapejitTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
set(include_roots jit/error jit cache runtime planner comm)
foreach(family IN LISTS SHAPEJIT_FAMILIES)
  list(APPEND include_roots runtime/${family})
endforeach()
foreach(root IN LISTS include_roots)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${root}/include/shapejit)
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${root}/include/shapejit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
endforeach()
install(EXPORT shapejitTargets NAMESPACE shapejit:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shapejit)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/shapejitConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/shapejitConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shapejit)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/shapejitConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/shapejitConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/shapejitConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/shapejit)
