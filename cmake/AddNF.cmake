# Thin wrappers over the MLIR CMake functions, so every nf target is declared
# the same way (CIRCT style).

# add_nf_library(name sources... [DEPENDS ...] [LINK_LIBS ...] [MLIR_LIBS ...]
#                [LINK_COMPONENTS ...])
# MLIR_LIBS go through mlir_target_link_libraries, which links libMLIR.so
# instead of the static archives in dylib mode; LINK_COMPONENTS are LLVM's.
function(add_nf_library name)
  cmake_parse_arguments(ARG "" "" "DEPENDS;LINK_LIBS;MLIR_LIBS;LINK_COMPONENTS"
    ${ARGN})
  add_mlir_library(${name} ${ARG_UNPARSED_ARGUMENTS}
    DEPENDS ${ARG_DEPENDS}
    LINK_COMPONENTS ${ARG_LINK_COMPONENTS}
    LINK_LIBS PUBLIC ${ARG_LINK_LIBS})
  if(ARG_MLIR_LIBS)
    mlir_target_link_libraries(${name} PUBLIC ${ARG_MLIR_LIBS})
  endif()
endfunction()
