# Installed layout: bin/shapejit, bin/shapejit-compile-worker (found beside the library or the
# executable that links it), lib/libshapejit_*.a, include/shapejit/..., and a CMake package.
