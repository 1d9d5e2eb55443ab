# Enforces the one-way dependencies of docs/ARCHITECTURE.md on #include lines:
#   ui -> app -> {inference, imaging, audio} -> kernels
# (app/main.cpp, the GUI program's composition root, is the one file that includes ui/.)
# kernels/, inference/, imaging/ and audio/ include no Qt; ui/ includes no CUDA, DCMTK,
# OpenCV, PortAudio or engine headers; only kernels/cuda/ includes CUDA; DCMTK stays in
# imaging/*.cpp. Run with: cmake -DSOURCE_DIR=<repo> -P cmake/CheckLayering.cmake
if(NOT SOURCE_DIR)
    message(FATAL_ERROR "CheckLayering: pass -DSOURCE_DIR=<repository root>")
endif()

set(qt_re "^(Q[A-Z][A-Za-z]*|Qt[A-Za-z]+/.*|q[a-z]+\\.h)$")
set(cuda_re "^(cuda.*|cublas.*|cuda_runtime.*|curand.*|cufft.*|nvrtc.*|thrust/.*|cub/.*|cooperative_groups.*|mma\\.h|cuda_fp16\\.h|cuda_bf16\\.h)$")
set(dcmtk_re "^dcmtk/.*")
set(opencv_re "^opencv2/.*")
set(portaudio_re "^(portaudio\\.h|pa_.*\\.h)$")

# folder -> forbidden patterns (regex on the included path)
set(rules_kernels "${qt_re};^(inference|imaging|audio|ui|app)/.*;${dcmtk_re};${opencv_re};${portaudio_re}")
set(rules_inference "${qt_re};${cuda_re};^(imaging|audio|ui|app)/.*;${dcmtk_re};${opencv_re};${portaudio_re}")
set(rules_imaging "${qt_re};${cuda_re};^(inference|audio|ui|app)/.*;${portaudio_re}")
set(rules_audio "${qt_re};${cuda_re};^(inference|imaging|ui|app)/.*;${dcmtk_re}")
set(rules_app "${cuda_re};^ui/.*")
set(rules_ui "${cuda_re};${dcmtk_re};${opencv_re};${portaudio_re};^(kernels|inference|imaging|audio)/.*")

set(violations "")
foreach(folder kernels inference imaging audio app ui)
    file(GLOB_RECURSE files LIST_DIRECTORIES false
        "${SOURCE_DIR}/${folder}/*.h" "${SOURCE_DIR}/${folder}/*.hpp" "${SOURCE_DIR}/${folder}/*.cpp"
        "${SOURCE_DIR}/${folder}/*.cc" "${SOURCE_DIR}/${folder}/*.cu" "${SOURCE_DIR}/${folder}/*.cuh")
    foreach(f IN LISTS files)
        file(RELATIVE_PATH rel "${SOURCE_DIR}" "${f}")
        set(rules "${rules_${folder}}")
        # The CUDA plugin is the one place that may include CUDA headers.
        if(rel MATCHES "^kernels/cuda/")
            list(REMOVE_ITEM rules "${cuda_re}")
        endif()
        # app/main.cpp is the composition root of the GUI program: it creates the window.
        if(rel STREQUAL "app/main.cpp")
            list(REMOVE_ITEM rules "^ui/.*")
        endif()
        file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
        foreach(line IN LISTS lines)
            string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*[<\"]([^>\"]+)[>\"].*$" "\\1" inc "${line}")
            foreach(re IN LISTS rules)
                if(inc MATCHES "${re}")
                    string(APPEND violations "  ${rel}: #include <${inc}> is not allowed in ${folder}/\n")
                    break()
                endif()
            endforeach()
            # DCMTK types never appear in imaging's public headers.
            if(rel MATCHES "^imaging/.*\\.(h|hpp)$" AND inc MATCHES "${dcmtk_re}")
                string(APPEND violations "  ${rel}: DCMTK header <${inc}> in a public header (keep it in imaging/*.cpp)\n")
            endif()
        endforeach()
    endforeach()
endforeach()

if(violations)
    message(FATAL_ERROR "Layering violations (see docs/ARCHITECTURE.md):\n${violations}")
endif()
message(STATUS "Layering: ok")
