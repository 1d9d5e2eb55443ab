#!/usr/bin/env bash
# One entry point for a fresh Debian 12 machine (run as root, from a clone):
#   .ci/setup.sh app    install what is missing, build, launch the app on the demo model and study
#   .ci/setup.sh test   install what is missing, build, run the whole test suite
#   .ci/setup.sh build  install what is missing and build only
# Options (environment): BUILD_DIR (default build), CMAKE_ARGS (extra configure arguments).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
mode=${1:-}
case "$mode" in app | test | build) ;; *)
    echo "usage: $0 app|test|build" >&2
    exit 2
    ;;
esac

install_deps() {
    mapfile -t wanted < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$root/.ci/apt-packages")
    local missing=()
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "== installing ${#missing[@]} Debian packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo=sudo
        $sudo apt-get update -q
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
}

build() {
    # CUDA is used when /usr/local/cuda/bin/nvcc exists; set CUDACXX=/nonexistent or
    # CMAKE_ARGS=-DCONSILIUM_CUDA=OFF for a CPU-only build.
    # shellcheck disable=SC2086
    cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCONSILIUM_WERROR=ON ${CMAKE_ARGS:-}
    cmake --build "$build_dir"
}

install_deps
build
case "$mode" in
test)
    cd "$build_dir"
    ctest --output-on-failure --timeout 600 -j2
    ;;
app)
    # The app opens the demo study (built into $build_dir/resources/demo-study) and the
    # shipped demo model on first launch.
    args=(--study "$build_dir/resources/demo-study")
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
        exec "$build_dir/bin/consilium" "${args[@]}"
    fi
    # No display (a server or a container): run it on a virtual X server and save a picture.
    echo "== no DISPLAY: running the app under xvfb-run; screenshot -> $build_dir/consilium.png"
    xvfb-run -a -s "-screen 0 1600x1000x24" "$build_dir/bin/consilium" "${args[@]}" \
        --screenshot "$build_dir/consilium.png"
    ;;
esac
