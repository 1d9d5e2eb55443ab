# consilium_library(NAME FOLDER SOURCES...) — one library target per source folder.
# Every target sees the repository root as its include root ("inference/gguf.h"), depends on
# the layering check, and builds with the project's warnings.
function(consilium_library name)
    cmake_parse_arguments(ARG "" "" "SOURCES" ${ARGN})
    add_library(${name} STATIC ${ARG_SOURCES})
    target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/generated)
    target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${CONSILIUM_WARNINGS}>)
    add_dependencies(${name} layering)
endfunction()

function(consilium_warnings name)
    target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${CONSILIUM_WARNINGS}>)
endfunction()
