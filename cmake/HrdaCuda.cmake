# Included at file scope by native/CMakeLists.txt (enable_language must not run inside a function).
# Builds libhrda_cuda from native/cuda/*.cu when nvcc is usable, else the stub that reports why.
include(CheckLanguage)

set(HRDA_USE_CUDA OFF)
if(NOT HRDA_CUDA STREQUAL "OFF")
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
    # CMake 3.25 cannot detect a default architecture without a GPU: name them explicitly.
    # Machine code for each; PTX only for the newest (JIT-compiled on later GPUs).
    set(CMAKE_CUDA_ARCHITECTURES "80-real;86-real;89-real;90")
  endif()
  if(NOT CMAKE_CUDA_COMPILER)
    find_program(HRDA_NVCC nvcc HINTS ENV CUDA_HOME ENV CUDA_PATH PATH_SUFFIXES bin PATHS /usr/local/cuda/bin)
    if(HRDA_NVCC)
      set(CMAKE_CUDA_COMPILER ${HRDA_NVCC} CACHE FILEPATH "nvcc" FORCE)
    endif()
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(HRDA_USE_CUDA ON)
  elseif(HRDA_CUDA STREQUAL "ON")
    message(FATAL_ERROR "HRDA_CUDA=ON but no usable nvcc was found (set CUDA_HOME or put nvcc on PATH)")
  endif()
endif()

if(HRDA_USE_CUDA)
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  find_package(CUDAToolkit REQUIRED)
  file(GLOB HRDA_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cuda/*.cu)
  add_library(hrda_cuda SHARED ${HRDA_CUDA_SOURCES})
  string(REGEX REPLACE "-(real|virtual)" "" HRDA_ARCHS "${CMAKE_CUDA_ARCHITECTURES}")
  string(REPLACE ";" " sm_" HRDA_ARCHS "sm_${HRDA_ARCHS}")
  target_compile_definitions(hrda_cuda PRIVATE HRDA_CUDA_ARCHS="${HRDA_ARCHS}")
  target_compile_options(hrda_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -O3 -lineinfo>)
  if(CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.8)
    # fatbins compressed for size (~5x smaller library, decompressed once at load): the bundle
    # carried to GPU machines must stay small
    target_compile_options(hrda_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--compress-mode=size>)
  endif()
  # Shared cudart: one runtime instance in the process, shared with the cuBLAS/cuDNN bindings.
  set_target_properties(hrda_cuda PROPERTIES CUDA_RUNTIME_LIBRARY Shared CUDA_STANDARD 17)
  target_link_libraries(hrda_cuda PRIVATE CUDA::cudart)
  message(STATUS "hrda: building libhrda_cuda for ${HRDA_ARCHS} with ${CMAKE_CUDA_COMPILER}")
else()
  add_library(hrda_cuda SHARED ${CMAKE_CURRENT_SOURCE_DIR}/cuda_stub/cuda_stub.cpp)
  message(STATUS "hrda: nvcc not used (HRDA_CUDA=${HRDA_CUDA}); libhrda_cuda is a stub")
endif()
target_include_directories(hrda_cuda PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
